#ifndef NULLMXD_CONFIG_PRINT_H
#define NULLMXD_CONFIG_PRINT_H

#include <stdio.h>

#include "config.h"

/* nullmxd -t: every effective setting, one "key value" line each, listeners first. */
void config_print(const struct config *cfg, FILE *out);

#endif
