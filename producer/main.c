/* ckansync-producer — admin tool (placeholder until the store lands). */
#include <stdio.h>
#include <string.h>
int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--version") == 0) {
		printf("ckansync-producer %s\n", CKS_VERSION);
		return 0;
	}
	fprintf(stderr, "ckansync: not implemented yet\n");
	return 2;
}
