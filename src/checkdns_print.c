#include "checkdns_print.h"

/*
 * Records start at column 0: in a zone file, leading blanks mean "same owner". A record
 * that replaces others follows them, each as a "; replace: " comment line.
 */
void print_text(FILE *out, const struct report *reports, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct report *r = &reports[i];

		fprintf(out, "%s%s: %s\n", i ? "\n" : "", r->name,
			severity_name(report_verdict(r)));
		for (size_t k = 0; k < r->nfindings; k++)
			fprintf(out, "  %s: %s\n", severity_name(r->findings[k].sev),
				r->findings[k].text);
		if (r->nsuggested)
			fprintf(out, "; suggested records for %s\n", r->name);
		for (size_t k = 0; k < r->nsuggested; k++) {
			for (size_t j = 0; j < r->suggested[k].nreplaces; j++)
				fprintf(out, "; replace: %s\n", r->suggested[k].replaces[j]);
			fprintf(out, "%s\n", r->suggested[k].record);
		}
	}
}

static void json_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c < 0x20)
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

static void print_json_suggestion(FILE *out, const struct suggestion *s)
{
	fputs("{\"record\":", out);
	json_string(out, s->record);
	fputs(",\"replaces\":[", out);
	for (size_t k = 0; k < s->nreplaces; k++) {
		fputs(k ? "," : "", out);
		json_string(out, s->replaces[k]);
	}
	fputs("]}", out);
}

static void print_json_report(FILE *out, const struct report *r)
{
	fputs("{\"name\":", out);
	json_string(out, r->name);
	fprintf(out, ",\"verdict\":\"%s\",\"findings\":[", severity_name(report_verdict(r)));
	for (size_t i = 0; i < r->nfindings; i++) {
		fprintf(out, "%s{\"severity\":\"%s\",\"code\":\"%s\",\"message\":", i ? "," : "",
			severity_name(r->findings[i].sev), r->findings[i].code);
		json_string(out, r->findings[i].text);
		fputc('}', out);
	}
	fputs("],\"suggested\":[", out);
	for (size_t i = 0; i < r->nsuggested; i++) {
		fputs(i ? "," : "", out);
		print_json_suggestion(out, &r->suggested[i]);
	}
	fputs("]}", out);
}

void print_json(FILE *out, const struct report *reports, size_t n)
{
	fputc('[', out);
	for (size_t i = 0; i < n; i++) {
		fputs(i ? ",\n" : "\n", out);
		print_json_report(out, &reports[i]);
	}
	fputs("\n]\n", out);
}
