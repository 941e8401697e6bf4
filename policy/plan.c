/* plan.c - placeholder */
#include "plan.h"
