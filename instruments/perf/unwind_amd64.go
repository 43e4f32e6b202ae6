package perf

// x86-64 user registers sampled in DWARF mode (asm/perf_regs.h): BP, SP, IP,
// delivered in that order (increasing bit number).
const (
	userRegsMask = 1<<6 | 1<<7 | 1<<8
	regBP        = 0
	regSP        = 1
	regIP        = 2
	dwarfArch    = true
)
