/* verdict.h - placeholder */
