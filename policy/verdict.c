/* verdict.c - placeholder */
#include "verdict.h"
