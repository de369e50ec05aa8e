#ifndef NULLMXD_REASON_H
#define NULLMXD_REASON_H

/*
 * Why a connection ended: the reason field of its log line and the reason label of
 * nullmxd_connections_total. A new reason is one line here and one word below.
 */
enum end_reason {
	END_NONE,
	END_EOF,
	END_TIMEOUT,
	END_INPUT_LIMIT,
	END_ERROR,
	END_RESET,
	END_SHUTDOWN,
	END_OVERLOAD,
	END_QUIT,
	END_MAX_COMMANDS,
	END_LINE_TOO_LONG,
	END_IDLE_TIMEOUT,
	END_SESSION_TIMEOUT,
	END_PROXY_TIMEOUT,
	END_PROXY_INVALID,
	END_PROXY_UNTRUSTED,
	END_LIMIT,
	END_REASONS
};

static inline const char *end_reason_word(enum end_reason r)
{
	static const char *const words[END_REASONS] = {
		[END_NONE] = "none",
		[END_EOF] = "eof",
		[END_TIMEOUT] = "timeout",
		[END_INPUT_LIMIT] = "input_limit",
		[END_ERROR] = "error",
		[END_RESET] = "reset",
		[END_SHUTDOWN] = "shutdown",
		[END_OVERLOAD] = "overload",
		[END_QUIT] = "quit",
		[END_MAX_COMMANDS] = "max_commands",
		[END_LINE_TOO_LONG] = "line_too_long",
		[END_IDLE_TIMEOUT] = "idle_timeout",
		[END_SESSION_TIMEOUT] = "session_timeout",
		[END_PROXY_TIMEOUT] = "proxy_timeout",
		[END_PROXY_INVALID] = "proxy_invalid",
		[END_PROXY_UNTRUSTED] = "proxy_untrusted",
		[END_LIMIT] = "limit",
	};
	return (unsigned)r < END_REASONS ? words[r] : "error";
}

#endif
