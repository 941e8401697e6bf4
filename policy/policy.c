/* policy.c - placeholder */
#include "policy.h"
