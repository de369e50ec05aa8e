#ifndef NULLMXD_CHECKDNS_PRINT_H
#define NULLMXD_CHECKDNS_PRINT_H

/* check-dns's reports on stdout: text for people, or one JSON document for programs. */
#include <stdio.h>

#include "checkdns_report.h"

void print_text(FILE *out, const struct report *reports, size_t n);
void print_json(FILE *out, const struct report *reports, size_t n);

#endif
