#include <stdio.h>
#include <stdlib.h>
#include <sysexits.h>

#include "checkdns_alloc.h"

void out_of_memory(void)
{
	fputs("nullmxd check-dns: out of memory\n", stderr);
	exit(EX_OSERR);
}

char *xvasprintf(const char *fmt, va_list ap)
{
	char *s;

	if (vasprintf(&s, fmt, ap) < 0)
		out_of_memory();
	return s;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = xvasprintf(fmt, ap);
	va_end(ap);
	return s;
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	if (!p)
		out_of_memory();
	return p;
}
