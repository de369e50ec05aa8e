#ifndef NULLMXD_CHECKDNS_ALLOC_H
#define NULLMXD_CHECKDNS_ALLOC_H

/*
 * Memory for nullmxd-check-dns: a one-shot command has nothing to save when malloc
 * fails, so these print why and exit with EX_OSERR instead of returning NULL.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdnoreturn.h>

noreturn void out_of_memory(void);
char *xvasprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void *xcalloc(size_t n, size_t size);

#endif
