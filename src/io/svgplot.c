/*
 * svgplot.c: a minimal SVG line chart: axes with round tick values, a polyline, labels.
 */
#include "io/svgplot.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "io/util.h"

#define WD 720.0
#define HT 420.0
#define ML 70.0
#define MR 20.0
#define MT 40.0
#define MB 50.0

static double nice_step(double range, int ticks) {
    double raw = range / ticks, mag = pow(10, floor(log10(raw))), f = raw / mag;
    return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
}

elmo_status elmo_svg_curve(const char *path, const char *title, const char *xlabel,
                           const char *ylabel, const double *x, const double *y, size_t n,
                           int logy) {
    if (n == 0) return elmo_fail(ELMO_ERR_ARG, "%s: nothing to plot", path);
    double x0 = x[0], x1 = x[0], y0 = INFINITY, y1 = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        x0 = fmin(x0, x[i]);
        x1 = fmax(x1, x[i]);
        double v = logy ? log10(fmax(y[i], 1e-300)) : y[i];
        if (isfinite(v)) {
            y0 = fmin(y0, v);
            y1 = fmax(y1, v);
        }
    }
    if (!(y1 > y0)) y1 = y0 + 1;
    if (!(x1 > x0)) x1 = x0 + 1;
    elmo_strbuf b = {0};
#define OUT(...) elmo_strbuf_printf(&b, __VA_ARGS__)
    OUT("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%g\" height=\"%g\" "
        "font-family=\"sans-serif\" font-size=\"12\">\n",
        WD, HT);
    OUT("<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
    OUT("<text x=\"%g\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">%s</text>\n", WD / 2,
        title);
    double pw = WD - ML - MR, ph = HT - MT - MB;
#define PX(v) (ML + ((v)-x0) / (x1 - x0) * pw)
#define PY(v) (MT + ph - ((v)-y0) / (y1 - y0) * ph)
    OUT("<rect x=\"%g\" y=\"%g\" width=\"%g\" height=\"%g\" fill=\"none\" stroke=\"#444\"/>\n", ML,
        MT, pw, ph);
    double xs = nice_step(x1 - x0, 6);
    for (double v = ceil(x0 / xs) * xs; v <= x1 + 1e-9; v += xs)
        OUT("<line x1=\"%.1f\" y1=\"%g\" x2=\"%.1f\" y2=\"%g\" stroke=\"#ddd\"/><text x=\"%.1f\" "
            "y=\"%g\" text-anchor=\"middle\">%g</text>\n",
            PX(v), MT, PX(v), MT + ph, PX(v), MT + ph + 16, v);
    if (logy) {
        for (int e = (int)floor(y0); e <= (int)ceil(y1); e++)
            for (int m = 1; m < 10; m++) {
                double v = e + log10(m);
                if (v < y0 || v > y1) continue;
                OUT("<line x1=\"%g\" y1=\"%.1f\" x2=\"%g\" y2=\"%.1f\" stroke=\"%s\"/>", ML, PY(v),
                    ML + pw, PY(v), m == 1 ? "#bbb" : "#eee");
                if (m == 1 || m == 2 || m == 5)
                    OUT("<text x=\"%g\" y=\"%.1f\" text-anchor=\"end\">%g</text>", ML - 6,
                        PY(v) + 4, pow(10, v));
                OUT("\n");
            }
    } else {
        double ys = nice_step(y1 - y0, 6);
        for (double v = ceil(y0 / ys) * ys; v <= y1 + 1e-9; v += ys)
            OUT("<line x1=\"%g\" y1=\"%.1f\" x2=\"%g\" y2=\"%.1f\" stroke=\"#ddd\"/><text x=\"%g\" "
                "y=\"%.1f\" text-anchor=\"end\">%g</text>\n",
                ML, PY(v), ML + pw, PY(v), ML - 6, PY(v) + 4, v);
    }
    OUT("<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"1.5\" points=\"");
    for (size_t i = 0; i < n; i++) {
        double v = logy ? log10(fmax(y[i], 1e-300)) : y[i];
        if (isfinite(v)) OUT("%.1f,%.1f ", PX(x[i]), PY(v));
    }
    OUT("\"/>\n");
    OUT("<text x=\"%g\" y=\"%g\" text-anchor=\"middle\">%s</text>\n", ML + pw / 2, HT - 12, xlabel);
    OUT("<text x=\"16\" y=\"%g\" text-anchor=\"middle\" transform=\"rotate(-90 16 "
        "%g)\">%s%s</text>\n",
        MT + ph / 2, MT + ph / 2, ylabel, logy ? " (log scale)" : "");
    OUT("</svg>\n");
#undef OUT
#undef PX
#undef PY
    if (!b.p) return elmo_fail(ELMO_ERR_NOMEM, "out of memory");
    elmo_atomic_file af;
    elmo_status s = elmo_atomic_begin(&af, path);
    if (!s) {
        FILE *f = fopen(af.tmp, "wb");
        int bad = !f || fwrite(b.p, 1, b.n, f) != b.n;
        if (f) bad |= fclose(f) != 0;
        if (bad) {
            elmo_atomic_abort(&af);
            s = elmo_fail(ELMO_ERR_IO, "%s: write error", path);
        } else {
            s = elmo_atomic_commit(&af);
        }
    }
    elmo_strbuf_free(&b);
    return s;
}
