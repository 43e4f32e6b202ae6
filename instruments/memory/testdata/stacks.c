// Two call paths allocating known amounts, one after the other.
// Built with frame pointers so user stacks unwind.
#include <stdlib.h>

// The empty asm after the call keeps it from becoming a tail call, which
// would leave no frame for the wrapper.
__attribute__((noinline)) void *big_allocator(size_t n) {
	void *p = malloc(n);
	__asm__ volatile("" ::"r"(p) : "memory");
	return p;
}

__attribute__((noinline)) void *small_allocator(size_t n) {
	void *p = malloc(n);
	__asm__ volatile("" ::"r"(p) : "memory");
	return p;
}

__attribute__((noinline)) void big(void) {
	for (int i = 0; i < 1000; i++) free(big_allocator(10000)); // 10,000,000 bytes
}

__attribute__((noinline)) void small(void) {
	for (int i = 0; i < 1000; i++) free(small_allocator(1000)); // 1,000,000 bytes
}

int main(void) {
	big();
	small();
	return 0;
}
