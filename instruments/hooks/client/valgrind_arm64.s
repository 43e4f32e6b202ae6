#include "textflag.h"

// func clientRequest(args *[6]uintptr, def uintptr) uintptr
//
// valgrind.h (PLAT_arm64_linux), VALGRIND_DO_CLIENT_REQUEST_EXPR: the
// default in X3, the request block's address in X4, then the preamble
// "ror x12,x12,#3; ror x12,x12,#13; ror x12,x12,#51; ror x12,x12,#61"
// (128 bits in all: X12 ends unchanged) and "orr x10,x10,x10"; the answer
// comes back in X3.
TEXT ·clientRequest(SB), NOSPLIT, $0-24
	MOVD def+8(FP), R3
	MOVD args+0(FP), R4
	ROR $3, R12, R12
	ROR $13, R12, R12
	ROR $51, R12, R12
	ROR $61, R12, R12
	ORR R10, R10, R10
	MOVD R3, ret+16(FP)
	RET
