#ifndef NULLMXD_TEST_H
#define NULLMXD_TEST_H

/*
 * Plain test programs: each CHECK prints the failing expression with its line and
 * counts; test_done() prints the tally and gives the exit status meson reads.
 */
#include <stdio.h>
#include <string.h>

static int test_failures;
static int test_checks;

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		test_checks++;                                                                     \
		if (!(cond)) {                                                                     \
			test_failures++;                                                           \
			fprintf(stdout, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);   \
		}                                                                                  \
	} while (0)

#define CHECK_STR(got, want)                                                                       \
	do {                                                                                       \
		const char *g_ = (got), *w_ = (want);                                              \
		test_checks++;                                                                     \
		if (!g_ || strcmp(g_, w_) != 0) {                                                  \
			test_failures++;                                                           \
			fprintf(stdout, "%s:%d: got \"%s\"\n%*swant \"%s\"\n", __FILE__, __LINE__, \
				g_ ? g_ : "(null)", (int)strlen(__FILE__) + 8, "", w_);            \
		}                                                                                  \
	} while (0)

static inline int test_done(void)
{
	printf("%d checks, %d failed\n", test_checks, test_failures);
	return test_failures ? 1 : 0;
}

#endif
