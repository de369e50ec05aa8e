#ifndef NULLMXD_ANON_H
#define NULLMXD_ANON_H

/*
 * The client field of log lines: the address as it is, truncated to a prefix, or a
 * keyed hash of the client's group (IPv4 /32, IPv6 /limits.ipv6_prefix).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "iptable.h"
#include "settings.h"

#define ANON_TEXT_MAX 64

/* Derives the hash key from the configured text (a BLAKE2b digest of it). */
int anon_key_from_text(const char *text, uint8_t key[ANON_KEY_BYTES]);
int anon_configure(const struct anon_settings *s);

/* The client and client_port fields of the line being logged: the client as the log
 * shows it, "-" and 0 for a non-IP address. */
void anon_log_client(const struct sockaddr *sa);
/*
 * A mail address field of the line being logged, as <PATH>: with log.anonymize other
 * than "none", only its domain, <@DOMAIN> (<@> when it has none); <> stays <>.
 */
void anon_log_path(const char *key, const char *path);
/* A client group (an iptable key) as the log shows it: an address or ADDR/PREFIX. */
void anon_group(const struct iptable_key *k, char *out, size_t len);

#endif
