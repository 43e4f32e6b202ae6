// operator new/delete in their common forms. Usage: cxx N
#include <cstdlib>
#include <new>
#include <vector>

struct alignas(64) Wide { char b[64]; };

int main(int argc, char **argv) {
	int n = std::atoi(argv[1]);
	for (int i = 0; i < n; i++) {
		int *p = new int(i);
		delete p;
		char *a = new char[100 + i];
		delete[] a;
		Wide *w = new Wide;
		delete w;
		int *q = new (std::nothrow) int[10];
		delete[] q;
	}
	std::vector<int> v;
	for (int i = 0; i < n; i++) v.push_back(i);
	return v.size() == 0;
}
