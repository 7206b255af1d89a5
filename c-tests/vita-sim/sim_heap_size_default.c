/*
 * sim_heap_size_default.c -- simulates VitaSDK's default heap size.
 *
 * A weak definition of _newlib_heap_size_user = 128 MiB (VitaSDK's default
 * since September 2023), in its own archive member of libsim_sbrk.a so that
 * only sim_sbrk.o's strong reference extracts it; a program that defines
 * the variable itself never gets this member. Must never define anything
 * else.
 */
unsigned int _newlib_heap_size_user __attribute__((weak)) = 128u * 1024u * 1024u;
