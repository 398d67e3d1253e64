/*
 * tinyasc_count: a QEMU TCG plugin that counts executed guest instructions by class
 * (Thumb/Thumb-2 decoding of the instruction bytes at translation time) and snapshots the
 * cumulative counters every time the guest executes the first instruction of the marker
 * function (its address is passed as marker=0x...). Counts are exact: one inline add per
 * executed instruction, no sampling.
 *
 * QEMU 7.2 ships no qemu-plugin.h, so the few declarations of plugin API version 1 used
 * here are written out below. Output goes to the file given by out=PATH (or stderr):
 * qemu_plugin_outs prints only under -d plugin. Semihosting's exit skips the plugin exit
 * callback, so the report is also written from an atexit handler.
 *
 * Arguments: marker=0xADDR  out=PATH  [pcprof=PATH: executions per instruction address]
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- minimal declarations of the QEMU 7.2 plugin API (version 1) ---- */
typedef uint64_t qemu_plugin_id_t;
struct qemu_plugin_tb;
struct qemu_plugin_insn;
typedef struct qemu_info_t qemu_info_t;
enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_CB_R_REGS, QEMU_PLUGIN_CB_RW_REGS };
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);
typedef void (*qemu_plugin_vcpu_udata_cb_t)(unsigned int vcpu_index, void *userdata);
typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void *userdata);
void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb);
void qemu_plugin_register_vcpu_insn_exec_cb(struct qemu_plugin_insn *insn, qemu_plugin_vcpu_udata_cb_t cb,
                                            enum qemu_plugin_cb_flags flags, void *userdata);
void qemu_plugin_register_vcpu_insn_exec_inline(struct qemu_plugin_insn *insn, enum qemu_plugin_op op,
                                                void *ptr, uint64_t imm);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, qemu_plugin_udata_cb_t cb, void *userdata);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb, size_t idx);
const void *qemu_plugin_insn_data(const struct qemu_plugin_insn *insn);
size_t qemu_plugin_insn_size(const struct qemu_plugin_insn *insn);
uint64_t qemu_plugin_insn_vaddr(const struct qemu_plugin_insn *insn);
#define QEMU_PLUGIN_EXPORT __attribute__((visibility("default")))
QEMU_PLUGIN_EXPORT int qemu_plugin_version = 1;
/* ---------------------------------------------------------------------- */

/* Instruction classes; XFER_REGS is not an instruction class but the number of registers
 * moved by load/store-multiple instructions (LDM/STM/PUSH/POP/LDRD/STRD/VLDM/VSTM, 64-bit VLDR/VSTR). */
enum {
    C_ALU, C_SIMD, C_MUL, C_MULL, C_DIV, C_LOAD, C_STORE, C_LOADM, C_STOREM, C_BRANCH,
    C_LOOP, C_FP, C_FP_LDST, C_MVE, C_MVE_LDST, C_FP_DIV, C_FP_MAC, N_CLASSES, XFER_REGS = N_CLASSES, N_COUNTERS
};
static const char *class_names[N_COUNTERS] = {
    "alu", "simd", "mul", "mull", "div", "load", "store", "load_multi", "store_multi", "branch",
    "loop", "fp", "fp_ldst", "mve", "mve_ldst", "fp_div", "fp_mac", "xfer_regs"};

static uint64_t counters[N_COUNTERS];
static uint64_t marker_addr = UINT64_MAX;
static const char *out_path;
static uint64_t *snaps;
static size_t n_snaps, cap_snaps;
static bool reported;

/* Optional per-address profile: one inline counter per translated instruction. */
typedef struct { uint64_t vaddr; uint64_t count; } pc_slot;
static const char *pcprof_path;
static pc_slot **pc_blocks;
static size_t n_pc, n_blocks;
#define PC_BLOCK 4096

static uint64_t *pc_counter(uint64_t vaddr)
{
    if (n_pc % PC_BLOCK == 0) {
        pc_blocks = realloc(pc_blocks, (n_blocks + 1) * sizeof *pc_blocks);
        pc_blocks[n_blocks] = calloc(PC_BLOCK, sizeof(pc_slot));
        if (!pc_blocks || !pc_blocks[n_blocks]) abort();
        n_blocks++;
    }
    pc_slot *slot = &pc_blocks[n_pc / PC_BLOCK][n_pc % PC_BLOCK];
    n_pc++;
    slot->vaddr = vaddr;
    return &slot->count;
}

static int popcount16(uint32_t v) { return __builtin_popcount(v & 0xFFFFu); }

/* Classify one Thumb instruction; *xfer receives the extra registers moved. */
static int classify(const uint8_t *b, size_t size, int *xfer)
{
    uint32_t hw1 = (uint32_t)b[0] | ((uint32_t)b[1] << 8);
    *xfer = 0;
    /* The length is the first halfword's (0b11101, 0b11110, 0b11111 in bits 15:11 begin a 32-bit instruction):
     * QEMU 7.2 reports some 16-bit instructions near the end of a page with the next halfword appended (size 4;
     * a CMP followed by a BNE read as a STM of nine registers), so its size is not trusted. */
    if (size == 4 && (hw1 >> 11) < 0x1D) size = 2;
    if (size == 2) {
        if ((hw1 & 0xF800) == 0x4800) return C_LOAD;                 /* LDR literal */
        if ((hw1 & 0xF000) == 0x5000) {                               /* ld/st register offset */
            uint32_t opb = (hw1 >> 9) & 7;
            return (opb >= 3) ? C_LOAD : C_STORE;
        }
        if ((hw1 & 0xE000) == 0x6000 || (hw1 & 0xF000) == 0x8000 || (hw1 & 0xF000) == 0x9000)
            return (hw1 & 0x0800) ? C_LOAD : C_STORE;                 /* ld/st immediate, SP */
        if ((hw1 & 0xFE00) == 0xB400) { *xfer = popcount16(hw1 & 0x1FF); return C_STOREM; } /* PUSH */
        if ((hw1 & 0xFE00) == 0xBC00) { *xfer = popcount16(hw1 & 0x1FF); return C_LOADM; }  /* POP */
        if ((hw1 & 0xF000) == 0xC000) {                               /* LDM/STM */
            *xfer = popcount16(hw1 & 0xFF);
            return (hw1 & 0x0800) ? C_LOADM : C_STOREM;
        }
        if ((hw1 & 0xF000) == 0xD000) return ((hw1 & 0x0F00) >= 0x0E00) ? C_ALU : C_BRANCH; /* Bcc, UDF, SVC */
        if ((hw1 & 0xF800) == 0xE000) return C_BRANCH;                /* B */
        if ((hw1 & 0xFF00) == 0x4700) return C_BRANCH;                /* BX, BLX */
        if ((hw1 & 0xF500) == 0xB100) return C_BRANCH;                /* CBZ, CBNZ */
        if ((hw1 & 0xFFC0) == 0x4340) return C_MUL;                   /* MULS */
        if ((hw1 & 0xFF87) == 0x4487) return C_BRANCH;                /* ADD PC, Rm */
        if ((hw1 & 0xFF87) == 0x4687) return C_BRANCH;                /* MOV PC, Rm */
        return C_ALU;
    }
    uint32_t hw2 = (uint32_t)b[2] | ((uint32_t)b[3] << 8);
    uint32_t op1 = (hw1 >> 11) & 3;
    if ((hw1 & 0xEC00) == 0xEC00) {                                   /* coprocessor / FP / MVE space */
        bool fp = ((hw2 >> 9) & 7) == 5;                              /* coproc 10/11: scalar FP */
        bool ldst = (hw1 & 0xEE00) == 0xEC00 && (hw1 & 0x01E0) != 0x0040; /* LDC/STC-like space */
        if ((hw1 & 0xFFE0) == 0xEC40) ldst = false;                   /* VMOV core<->2 regs */
        if (ldst && fp && (hw1 & 0xFE00) == 0xEC00 && (hw1 & 0x0120) != 0x0100) {
            *xfer = (int)(hw2 & 0xFF) - 1;                            /* VLDM/VSTM/VPUSH/VPOP: words */
            if (*xfer < 0) *xfer = 0;
        } else if (ldst && fp && (hw1 & 0xFE00) == 0xEC00 && (hw2 & 0x0100)) {
            *xfer = 1;                                                /* VLDR/VSTR of a D register: two words */
        }
        if (ldst) return fp ? C_FP_LDST : C_MVE_LDST;
        if (fp && (hw1 & 0xFFB0) == 0xEE80 && (hw2 & 0x0040) == 0) return C_FP_DIV;        /* VDIV */
        if (fp && (hw1 & 0xFFBF) == 0xEEB1 && (hw2 & 0x00C0) == 0x00C0) return C_FP_DIV;   /* VSQRT */
        if (fp && (hw2 & 0x0010) == 0) { /* VMLA/VMLS, VNMLA/VNMLS (chained), VFNMA/VFNMS, VFMA/VFMS (fused) */
            const uint32_t opc1 = hw1 & 0xFFB0;
            if (opc1 == 0xEE00 || opc1 == 0xEE10 || opc1 == 0xEE90 || opc1 == 0xEEA0) return C_FP_MAC;
        }
        return fp ? C_FP : C_MVE;
    }
    if (op1 == 1) {
        if ((hw1 & 0x0640) == 0x0000) {                               /* LDM/STM/PUSH/POP.W */
            *xfer = popcount16(hw2);
            return (hw1 & 0x0010) ? C_LOADM : C_STOREM;
        }
        if ((hw1 & 0x0640) == 0x0040) {                               /* dual, exclusive, TBB/TBH */
            if ((hw1 & 0xFFF0) == 0xE8D0 && (hw2 & 0x00E0) == 0x0000) return C_BRANCH;
            if ((hw1 & 0x0120) != 0 ) {                                /* LDRD/STRD (P or W) */
                *xfer = 1;
                return (hw1 & 0x0010) ? C_LOADM : C_STOREM;
            }
            return (hw1 & 0x0010) ? C_LOAD : C_STORE;                 /* LDREX/STREX */
        }
        return C_ALU;                                                 /* data processing (shifted reg) */
    }
    if (op1 == 2) {
        if ((hw2 & 0x8000) == 0) return C_ALU;                        /* data processing (immediate) */
        if ((hw1 & 0xFFEF) == 0xF00F && (hw2 & 0xF001) == 0xC001) return C_LOOP;  /* LE, LETP */
        if ((hw1 & 0xFFC0) == 0xF040 && (hw2 & 0xF001) == 0xC001) return C_LOOP;  /* WLS, DLS, WLSTP, DLSTP */
        if ((hw2 & 0x5000) != 0) return C_BRANCH;                     /* B.W, BL */
        if (((hw1 >> 7) & 7) != 7) return C_BRANCH;                   /* B<cond>.W */
        return C_ALU;                                                 /* MSR, MRS, hints, barriers */
    }
    /* op1 == 3 */
    if ((hw1 & 0xFE00) == 0xF800) return (hw1 & 0x0010) ? C_LOAD : C_STORE; /* single ld/st, PLD */
    if ((hw1 & 0xFF00) == 0xFA00) {                                   /* data processing (register) */
        if ((hw2 & 0xF000) == 0xF000 && (hw2 & 0x0080) != 0) return C_SIMD; /* SXTB16/UXTAB16 etc. */
        if ((hw2 & 0xF000) == 0xF000 && (hw1 & 0x0080) != 0) return C_SIMD; /* parallel add/sub, QADD.. */
        return C_ALU;
    }
    if ((hw1 & 0xFF80) == 0xFB00) return C_MUL;                       /* MUL, MLA, SMLAD, SMUAD, SMLAxy */
    if ((hw1 & 0xFF80) == 0xFB80) {
        uint32_t op = (hw1 >> 4) & 7;
        return (op == 1 || op == 3) ? C_DIV : C_MULL;                 /* SDIV/UDIV vs long multiply */
    }
    return C_ALU;
}

static void on_marker(unsigned int vcpu, void *udata)
{
    (void)vcpu; (void)udata;
    if (n_snaps == cap_snaps) {
        cap_snaps = cap_snaps ? 2 * cap_snaps : 256;
        snaps = realloc(snaps, cap_snaps * N_COUNTERS * sizeof(uint64_t));
        if (!snaps) abort();
    }
    memcpy(snaps + n_snaps * N_COUNTERS, counters, sizeof counters);
    n_snaps++;
}

static void on_tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    (void)id;
    size_t n = qemu_plugin_tb_n_insns(tb);
    for (size_t i = 0; i < n; i++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        int xfer;
        int c = classify((const uint8_t *)qemu_plugin_insn_data(insn), qemu_plugin_insn_size(insn), &xfer);
        qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64, &counters[c], 1);
        if (xfer > 0)
            qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64, &counters[XFER_REGS],
                                                       (uint64_t)xfer);
        if (pcprof_path)
            qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64,
                                                       pc_counter(qemu_plugin_insn_vaddr(insn)), 1);
        if (qemu_plugin_insn_vaddr(insn) == marker_addr)
            qemu_plugin_register_vcpu_insn_exec_cb(insn, on_marker, QEMU_PLUGIN_CB_NO_REGS, NULL);
    }
}

static void write_row(FILE *f, const char *tag, const uint64_t *row)
{
    fprintf(f, "%s", tag);
    for (int c = 0; c < N_COUNTERS; c++) fprintf(f, " %llu", (unsigned long long)row[c]);
    fputc('\n', f);
}

static void report(void)
{
    if (reported) return;
    reported = true;
    FILE *f = out_path ? fopen(out_path, "w") : stderr;
    if (!f) f = stderr;
    fprintf(f, "classes");
    for (int c = 0; c < N_COUNTERS; c++) fprintf(f, " %s", class_names[c]);
    fputc('\n', f);
    for (size_t i = 0; i < n_snaps; i++) write_row(f, "snap", snaps + i * N_COUNTERS);
    write_row(f, "total", counters);
    if (f != stderr) fclose(f);
    else fflush(f);
    if (pcprof_path) {
        FILE *g = fopen(pcprof_path, "w");
        if (g) {
            for (size_t i = 0; i < n_pc; i++) {
                const pc_slot *sl = &pc_blocks[i / PC_BLOCK][i % PC_BLOCK];
                if (sl->count) fprintf(g, "%llx %llu\n", (unsigned long long)sl->vaddr, (unsigned long long)sl->count);
            }
            fclose(g);
        }
    }
}

static void on_exit_cb(qemu_plugin_id_t id, void *udata) { (void)id; (void)udata; report(); }

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv)
{
    (void)info;
    for (int i = 0; i < argc; i++) {
        if (strncmp(argv[i], "marker=", 7) == 0) marker_addr = strtoull(argv[i] + 7, NULL, 0) & ~1ull;
        else if (strncmp(argv[i], "out=", 4) == 0) out_path = strdup(argv[i] + 4);
        else if (strncmp(argv[i], "pcprof=", 7) == 0) pcprof_path = strdup(argv[i] + 7);
        else { fprintf(stderr, "tinyasc_count: unknown argument %s\n", argv[i]); return -1; }
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_tb_trans);
    qemu_plugin_register_atexit_cb(id, on_exit_cb, NULL);
    atexit(report);
    return 0;
}

#ifdef TINYASC_COUNT_SELFTEST
/* The classifier alone (tests/test_latency_harness.py): each argument is an instruction's bytes in hex as QEMU
 * reports them (memory order, 2 or 4 bytes); prints "class xfer" per argument. */
int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        uint8_t b[4] = {0, 0, 0, 0};
        size_t n = strlen(argv[i]) / 2;
        for (size_t k = 0; k < n && k < 4; k++) {
            unsigned v;
            if (sscanf(argv[i] + 2 * k, "%2x", &v) != 1) return 2;
            b[k] = (uint8_t)v;
        }
        int xfer;
        int c = classify(b, n, &xfer);
        printf("%s %d\n", class_names[c], xfer);
    }
    return 0;
}
#endif
