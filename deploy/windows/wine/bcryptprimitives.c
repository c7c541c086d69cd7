/* A stand-in for Windows' bcryptprimitives.dll, for running tickbar's .exe under Wine 8 (Debian 12),
 * which lacks it; Windows 8 and later have the real one. Rust's standard library draws its random
 * numbers from ProcessPrng; this one takes them from RtlGenRandom (advapi32). Built and used only by
 * deploy/check-windows.sh, beside a copy of the binary in a temp dir: never installed. */
#include <windows.h>

BOOLEAN NTAPI SystemFunction036(PVOID buffer, ULONG length); /* RtlGenRandom */

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length) {
    while (length > 0) {
        ULONG chunk = length > 0x10000000 ? 0x10000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk)) return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
