#ifndef UPVAULT_CSODIUM_SHIM_H
#define UPVAULT_CSODIUM_SHIM_H
#include <sodium.h>
#endif
