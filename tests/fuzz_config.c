#include <libconfig.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "config_scan.h"

/*
 * Input: a config file. The loader must neither crash, leak nor misread it; and the
 * scanner must agree with libconfig's own lexer on every integer of the text: as many
 * integers, in the same order, each with the value libconfig stored for it.
 */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[] = "/tmp/nullmxd-fuzz-config-XXXXXX";
static char path[sizeof(dir) + 16];

static void check(int ok)
{
	if (!ok)
		abort();
}

/* So that an @include can succeed: a file beside the config, with integers in it. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char inc[sizeof(dir) + 16];
	FILE *f;

	check(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/nullmxd.conf", dir);
	snprintf(inc, sizeof(inc), "%s/inc.conf", dir);
	check((f = fopen(inc, "w")) != NULL);
	fputs("drain_bytes = 0x10; # 5\nlimits = { per_ip_window = 4294967297; };\n", f);
	fclose(f);
	return 0;
}

/* Walks the tree in the order libconfig read it; *k counts the main file's integers. */
static void compare(const config_setting_t *s, const char *text, size_t *k)
{
	int type = config_setting_type(s);
	struct int_literal lit;

	if ((type == CONFIG_TYPE_INT || type == CONFIG_TYPE_INT64) &&
	    !config_setting_source_file(s)) {
		check(config_scan_integer(text, (*k)++, &lit) >= *k);
		check(lit.libconfig == config_setting_get_int64(s));
		/* a named setting's line is its name's; an element's, its value's or later */
		check(config_setting_name(s) ? lit.line >= config_setting_source_line(s)
					     : lit.line <= config_setting_source_line(s));
	}
	for (int i = 0; config_setting_is_aggregate(s) && i < config_setting_length(s); i++)
		compare(config_setting_get_elem(s, (unsigned)i), text, k);
}

static void differential(const char *text)
{
	struct int_literal lit;
	config_t lc;
	size_t k = 0;

	/* libconfig opens included files unchecked (the loader checks them first) */
	if (config_scan_include(text, 0, NULL) > 0)
		return;
	config_init(&lc);
	if (config_read_string(&lc, text)) {
		compare(config_root_setting(&lc), text, &k);
		check(config_scan_integer(text, k, &lit) == k);
	}
	config_destroy(&lc);
}

/*
 * Whether a line of diag says an integer was not found. Keys are nullmxd's own words, so
 * a file's text quoted in another message cannot pass for one.
 */
static int lost_integer(const char *diag)
{
	for (const char *line = diag; line && *line; line = strchr(line, '\n'), line += !!line) {
		const char *p = line + strlen(path);
		if (strncmp(line, path, strlen(path)) != 0 || *p++ != ':')
			continue;
		p += strspn(p, "0123456789");
		if (strncmp(p, ": ", 2) == 0 &&
		    strncmp(p + 2 + strspn(p + 2, "abcdefghijklmnopqrstuvwxyz_."),
			    ": cannot find the value as written", 34) == 0)
			return 1;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), *out = NULL;
	struct config cfg;
	size_t len = 0;
	FILE *f, *diag;

	check(text != NULL);
	memcpy(text, data, size);
	text[size] = '\0';
	differential(text);
	check((f = fopen(path, "w")) != NULL);
	fwrite(data, 1, size, f);
	fclose(f);
	check((diag = open_memstream(&out, &len)) != NULL);
	if (config_load(&cfg, path, diag) == 0)
		config_free(&cfg);
	fclose(diag);
	/* Nothing changes the file meanwhile: every integer must be found as written. */
	check(!lost_integer(out));
	free(out);
	free(text);
	return 0;
}
