// SPDX-License-Identifier: GPL-2.0
/*
 * A QEMU TCG plugin for make profile (PROFILE_WITH=insns): counts the guest
 * instructions executed between two marker instructions, per translation
 * block start address, so that the host can put them on the guest's symbols
 * (Rust code included, which ftrace does not instrument).
 *
 * The marker is "xchg %bx,%bx" (66 87 db), an instruction that changes
 * nothing and that compilers do not emit; tests/drm-test executes it before
 * and after the profiled operation. Each execution of it turns counting on or
 * off. Counting is per block: a block's instructions are counted when it
 * starts, so a block left early (an interrupt, a page fault, an I/O access
 * that -icount makes QEMU translate again) is counted whole.
 *
 * Arguments: out=PATH, the file written when QEMU exits, and mode=:
 * - blocks (make profile, the default): a header line, then "address
 *   instructions" per block start address that executed while counting
 *   (hexadecimal address, decimal count);
 * - windows (make bench): a header line, then the instructions of each
 *   window between an "on" and an "off" marker, one per line, in order. Each
 *   block adds its length to one counter, read at the markers. (The inline
 *   per-vCPU add, which would save the call, was tried first: with it the
 *   guest's user space crashed under -icount; not investigated.)
 *
 * Only the few functions of QEMU's plugin API used here are declared; their
 * names and signatures are those of QEMU's documented plugin interface
 * (API version 4, QEMU 9.2 and later).
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXPORT __attribute__((visibility("default")))

typedef uint64_t plugin_id;
struct qemu_plugin_tb;
struct qemu_plugin_insn;
struct qemu_info;

enum cb_flags { CB_NO_REGS };

typedef void (*tb_trans_cb)(plugin_id id, struct qemu_plugin_tb *tb);
typedef void (*exec_cb)(unsigned int vcpu, void *data);
typedef void (*atexit_cb)(plugin_id id, void *data);

void qemu_plugin_register_vcpu_tb_trans_cb(plugin_id id, tb_trans_cb cb);
void qemu_plugin_register_vcpu_tb_exec_cb(struct qemu_plugin_tb *tb, exec_cb cb,
					  enum cb_flags flags, void *data);
void qemu_plugin_register_vcpu_insn_exec_cb(struct qemu_plugin_insn *insn, exec_cb cb,
					    enum cb_flags flags, void *data);
void qemu_plugin_register_atexit_cb(plugin_id id, atexit_cb cb, void *data);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
uint64_t qemu_plugin_tb_vaddr(const struct qemu_plugin_tb *tb);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb, size_t idx);
size_t qemu_plugin_insn_data(const struct qemu_plugin_insn *insn, void *dest, size_t len);

EXPORT int qemu_plugin_version = 4;

/* One translation of a block; a block translated again gets another. */
struct block {
	uint64_t vaddr;
	uint64_t insns;
	uint64_t executions;
	struct block *next;
};

static const uint8_t marker[] = { 0x66, 0x87, 0xdb };

/*
 * Under -icount QEMU runs the vCPUs in one thread, one at a time, so the
 * callbacks never race; the translation callback may run in another thread
 * than a later atexit, which reads the list only once the vCPUs stopped.
 */
static bool counting;
static uint64_t markers_seen;
static struct block *blocks;
static char *out_path;

/* Windows mode: every vCPU's executed instructions, and the closed windows. */
static bool windows_mode;
static uint64_t executed;
static uint64_t window_start;
static uint64_t *windows;
static size_t n_windows, windows_room;

static void close_window(void)
{
	if (n_windows == windows_room) {
		size_t room = windows_room ? 2 * windows_room : 256;
		uint64_t *grown = realloc(windows, room * sizeof(*windows));

		if (!grown) {
			fprintf(stderr, "insn_profile: out of memory\n");
			abort();
		}
		windows = grown;
		windows_room = room;
	}
	windows[n_windows++] = executed - window_start;
}

static void block_executed(unsigned int vcpu, void *data)
{
	struct block *b = data;

	(void)vcpu;
	if (counting)
		b->executions++;
}

static void block_counted(unsigned int vcpu, void *data)
{
	(void)vcpu;
	executed += (uintptr_t)data;
}

static void marker_executed(unsigned int vcpu, void *data)
{
	(void)vcpu;
	(void)data;
	counting = !counting;
	markers_seen++;
	if (!windows_mode)
		return;
	if (counting)
		window_start = executed;
	else
		close_window();
}

static bool is_marker(const struct qemu_plugin_insn *insn)
{
	uint8_t bytes[sizeof(marker)];

	return qemu_plugin_insn_data(insn, bytes, sizeof(bytes)) == sizeof(bytes) &&
	       memcmp(bytes, marker, sizeof(bytes)) == 0;
}

static void count_block(struct qemu_plugin_tb *tb, size_t n)
{
	struct block *b;

	if (windows_mode) {
		qemu_plugin_register_vcpu_tb_exec_cb(tb, block_counted, CB_NO_REGS,
						     (void *)(uintptr_t)n);
		return;
	}
	b = calloc(1, sizeof(*b));
	if (!b) {
		fprintf(stderr, "insn_profile: out of memory\n");
		abort();
	}
	b->vaddr = qemu_plugin_tb_vaddr(tb);
	b->insns = n;
	b->next = blocks;
	blocks = b;
	qemu_plugin_register_vcpu_tb_exec_cb(tb, block_executed, CB_NO_REGS, b);
}

static void translated(plugin_id id, struct qemu_plugin_tb *tb)
{
	size_t n = qemu_plugin_tb_n_insns(tb);

	(void)id;
	count_block(tb, n);
	for (size_t i = 0; i < n; i++) {
		struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);

		if (insn && is_marker(insn))
			qemu_plugin_register_vcpu_insn_exec_cb(insn, marker_executed, CB_NO_REGS,
							       NULL);
	}
}

static void write_profile(plugin_id id, void *data)
{
	FILE *f = fopen(out_path, "w");

	(void)id;
	(void)data;
	if (!f) {
		perror(out_path);
		return;
	}
	if (windows_mode) {
		fprintf(f, "insn-windows %zu%s\n", n_windows,
			counting ? " (still counting at exit)" : "");
		for (size_t i = 0; i < n_windows; i++)
			fprintf(f, "%" PRIu64 "\n", windows[i]);
		fclose(f);
		return;
	}
	fprintf(f, "insn-profile markers %" PRIu64 "%s\n", markers_seen,
		counting ? " (still counting at exit)" : "");
	for (struct block *b = blocks; b; b = b->next)
		if (b->executions)
			fprintf(f, "%" PRIx64 " %" PRIu64 "\n", b->vaddr,
				b->insns * b->executions);
	fclose(f);
}

EXPORT int qemu_plugin_install(plugin_id id, const struct qemu_info *info, int argc,
			       char **argv)
{
	(void)info;
	for (int i = 0; i < argc; i++) {
		if (strncmp(argv[i], "out=", 4) == 0) {
			out_path = strdup(argv[i] + 4);
		} else if (strcmp(argv[i], "mode=windows") == 0) {
			windows_mode = true;
		} else if (strcmp(argv[i], "mode=blocks") != 0) {
			fprintf(stderr, "insn_profile: unknown argument %s\n", argv[i]);
			return -1;
		}
	}
	if (!out_path) {
		fprintf(stderr, "insn_profile: out=PATH is required\n");
		return -1;
	}
	qemu_plugin_register_vcpu_tb_trans_cb(id, translated);
	qemu_plugin_register_atexit_cb(id, write_profile, NULL);
	return 0;
}
