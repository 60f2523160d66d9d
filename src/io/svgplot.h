/* svgplot.h: a line chart as a standalone SVG file (training curves), written atomically. */
#ifndef ELMO_SVGPLOT_H
#define ELMO_SVGPLOT_H

#include <stddef.h>

#include "elmo.h"

/* y against x; logy: logarithmic y axis. */
elmo_status elmo_svg_curve(const char *path, const char *title, const char *xlabel,
                           const char *ylabel, const double *x, const double *y, size_t n,
                           int logy);

#endif
