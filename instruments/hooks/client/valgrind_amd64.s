#include "textflag.h"

// func clientRequest(args *[6]uintptr, def uintptr) uintptr
//
// valgrind.h (PLAT_amd64_linux), VALGRIND_DO_CLIENT_REQUEST_EXPR: the
// request block's address in RAX, the default in RDX, then the preamble
// "rolq $3,%rdi; rolq $13,%rdi; rolq $61,%rdi; rolq $51,%rdi" (3+13+61+51 =
// 128 bits: RDI ends unchanged) and "xchgq %rbx,%rbx"; valgrind recognises
// the exact byte sequence and leaves the answer in RDX.
TEXT ·clientRequest(SB), NOSPLIT, $0-24
	MOVQ args+0(FP), AX
	MOVQ def+8(FP), DX
	ROLQ $3, DI
	ROLQ $13, DI
	ROLQ $61, DI
	ROLQ $51, DI
	XCHGQ BX, BX
	MOVQ DX, ret+16(FP)
	RET
