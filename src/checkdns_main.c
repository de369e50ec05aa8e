/*
 * nullmxd-check-dns: what "nullmxd check-dns" runs. A program of its own, so that the
 * daemon never loads ldns, and with it libcrypto, a megabyte of every process's memory.
 */
#include "checkdns.h"

int main(int argc, char **argv)
{
	argv[0] = "check-dns";
	return checkdns_main(argc, argv);
}
