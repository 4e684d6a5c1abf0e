/* noai_guard._htmlscan: the C implementation of noai_guard.htmlscan (see that module).
 *
 * One pass over the bytes as the WHATWG HTML tokenizer (HTML §13.2.5) walks them: for
 * scan_head_tags, in the states a document head needs, with the head extent rules of tree
 * construction (§13.2.6.4.2-.6, scripting disabled); for media_tags, over the whole
 * document.  The pure-Python functions in htmlscan.py are the reference: every result here
 * must be identical to theirs (tests/test_htmlscan.py).
 *
 * CPython C API only, C99.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define HEAD_END 0
#define UNSURE 1
/* scan_head_tags(..., exact=True): the head ended, but a flagged meta comes after a point
 * where WHATWG's head may have ended already (see the Python module). */
#define HEAD_END_LOOSE 2
/* Bytes a window that is not the whole document must hold past the token that ends the
 * head: libxml2's push parser holds a "<!" back until 9 bytes are in, the first tag until 5. */
#define LOOKAHEAD 16

typedef unsigned char uc;

static int is_ws(uc c) { return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r'; }
static int is_alpha(uc c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static int is_alnum(uc c) { return is_alpha(c) || (c >= '0' && c <= '9'); }
/* End of a tag name and of an appropriate end tag's name: whitespace, "/", ">". */
static int is_delim(uc c) { return is_ws(c) || c == '/' || c == '>'; }
static uc lower(uc c) { return (c >= 'A' && c <= 'Z') ? (uc)(c + 32) : c; }

/* Whether d[0:len] equals the lowercase ASCII word w, ASCII case-insensitively. */
static int ieq(const uc *d, Py_ssize_t len, const char *w)
{
    Py_ssize_t i;
    for (i = 0; i < len; i++)
        if (w[i] == '\0' || lower(d[i]) != (uc)w[i])
            return 0;
    return w[len] == '\0';
}

static Py_ssize_t find_byte(const uc *d, Py_ssize_t pos, Py_ssize_t n, uc c)
{
    const uc *p;
    if (pos >= n)
        return -1;
    p = memchr(d + pos, c, (size_t)(n - pos));
    return p ? p - d : -1;
}

static Py_ssize_t letters(const uc *d, Py_ssize_t pos, Py_ssize_t n)
{
    while (pos < n && is_alpha(d[pos]))
        pos++;
    return pos;
}

/* A tag's name: from its first letter to whitespace, "/" or ">" (§13.2.5.8). */
static Py_ssize_t tag_name_end(const uc *d, Py_ssize_t pos, Py_ssize_t n)
{
    while (pos < n && !is_delim(d[pos]))
        pos++;
    return pos;
}

/* The element names the scans tell apart (ASCII case-insensitively), and what they are.
 * "Void" here is what libxml2 (lxml) parses as empty, for media_tags' parents: WHATWG's
 * embed, source, track, wbr, keygen and bgsound are containers for it (<source><source> nests). */
enum {
    T_OTHER, T_META, T_LINK, T_BASE, T_BASEFONT, T_BR, T_VOID, /* void elements */
    T_TITLE, T_STYLE, T_NOFRAMES, T_SCRIPT, T_TEXTAREA, T_XMP, T_IFRAME, T_NOEMBED, T_PLAINTEXT, /* raw text */
    T_NOSCRIPT, T_HTML, T_HEAD, T_TEMPLATE, T_BODY, T_SVG, T_MATH, T_BGSOUND
};
#define IS_VOID(k) ((k) >= T_META && (k) <= T_VOID)
#define IS_RAW_TEXT(k) ((k) >= T_TITLE && (k) <= T_PLAINTEXT)

/* The kind of the element named d[0:len]; *name (when not NULL) gets its lowercase name. */
static int tag_kind(const uc *d, Py_ssize_t len, const char **name)
{
    uc low[10];
    Py_ssize_t i;
    const char *found = NULL;
    int kind = T_OTHER;
    if (len < 2 || len > 9)
        return T_OTHER;
    for (i = 0; i < len; i++)
        low[i] = lower(d[i]);
#define TRY(word, k)                                                                     \
    if (found == NULL && len == (Py_ssize_t)sizeof(word) - 1 && memcmp(low, word, sizeof(word) - 1) == 0) { \
        found = word;                                                                    \
        kind = k;                                                                        \
    }
    switch (low[0]) {
    case 'a':
        TRY("area", T_VOID);
        break;
    case 'b':
        TRY("base", T_BASE);
        TRY("basefont", T_BASEFONT);
        TRY("bgsound", T_BGSOUND);
        TRY("br", T_BR);
        TRY("body", T_BODY);
        break;
    case 'c':
        TRY("col", T_VOID);
        break;
    case 'f':
        TRY("frame", T_VOID);
        break;
    case 'h':
        TRY("hr", T_VOID);
        TRY("html", T_HTML);
        TRY("head", T_HEAD);
        break;
    case 'i':
        TRY("img", T_VOID);
        TRY("input", T_VOID);
        TRY("iframe", T_IFRAME);
        TRY("isindex", T_VOID);
        break;
    case 'l':
        TRY("link", T_LINK);
        break;
    case 'm':
        TRY("meta", T_META);
        TRY("math", T_MATH);
        break;
    case 'n':
        TRY("noframes", T_NOFRAMES);
        TRY("noembed", T_NOEMBED);
        TRY("noscript", T_NOSCRIPT);
        break;
    case 'p':
        TRY("param", T_VOID);
        TRY("plaintext", T_PLAINTEXT);
        break;
    case 's':
        TRY("style", T_STYLE);
        TRY("script", T_SCRIPT);
        TRY("svg", T_SVG);
        break;
    case 't':
        TRY("title", T_TITLE);
        TRY("textarea", T_TEXTAREA);
        TRY("template", T_TEMPLATE);
        break;
    case 'x':
        TRY("xmp", T_XMP);
        break;
    default:
        break;
    }
#undef TRY
    if (name != NULL)
        *name = found;
    return kind;
}

/* Offset just past the ">" of a tag whose attributes start at pos (before attribute name
 * state), or -1 when it does not end within d[:n] (§13.2.5.32-.42).  The self-closing
 * start tag and after-attribute-value (quoted) states act as "before attribute name"
 * for where the tag ends.  *closed (when not NULL) gets the tag's self-closing flag: its
 * ">" came right after a "/" in the self-closing start tag state (not in an unquoted value). */
enum { A_BEFORE, A_NAME, A_AFTER_NAME, A_BEFORE_VALUE, A_UNQUOTED };

static Py_ssize_t tag_end(const uc *d, Py_ssize_t pos, Py_ssize_t n, int *closed)
{
    int st = A_BEFORE;
    while (pos < n) {
        uc c = d[pos];
        switch (st) {
        case A_BEFORE:
            if (c == '>') {
                if (closed != NULL)
                    *closed = d[pos - 1] == '/'; /* a "/" here came in a before-name state */
                return pos + 1;
            }
            if (!is_ws(c) && c != '/')
                st = A_NAME; /* "=" as the first character is part of the name */
            break;
        case A_NAME:
            if (c == '>')
                return pos + 1;
            if (is_ws(c))
                st = A_AFTER_NAME;
            else if (c == '/')
                st = A_BEFORE;
            else if (c == '=')
                st = A_BEFORE_VALUE;
            break;
        case A_AFTER_NAME:
            if (c == '>')
                return pos + 1;
            if (c == '/')
                st = A_BEFORE;
            else if (c == '=')
                st = A_BEFORE_VALUE;
            else if (!is_ws(c))
                st = A_NAME;
            break;
        case A_BEFORE_VALUE:
            if (c == '>')
                return pos + 1;
            if (c == '"' || c == '\'') {
                Py_ssize_t q = find_byte(d, pos + 1, n, c);
                if (q < 0)
                    return -1;
                pos = q;
                st = A_BEFORE;
            } else if (!is_ws(c))
                st = A_UNQUOTED;
            break;
        default: /* A_UNQUOTED */
            if (c == '>')
                return pos + 1;
            if (is_ws(c))
                st = A_BEFORE;
            break;
        }
        pos++;
    }
    return -1;
}

/* RCDATA / RAWTEXT (§13.2.5.2-.3, .9-.14): where the name of the appropriate end tag
 * "</" name (whitespace | "/" | ">") ends, or -1. */
static Py_ssize_t raw_end(const uc *d, Py_ssize_t pos, Py_ssize_t n, const char *name)
{
    Py_ssize_t len = (Py_ssize_t)strlen(name);
    for (;;) {
        Py_ssize_t lt = find_byte(d, pos, n, '<');
        if (lt < 0 || lt + 2 + len >= n)
            return -1;
        if (d[lt + 1] == '/' && ieq(d + lt + 2, len, name) && is_delim(d[lt + 2 + len]))
            return lt + 2 + len;
        pos = lt + 1;
    }
}

enum { S_ESC, S_ESC_DASH, S_ESC_DASH_DASH, S_ESC_LT, S_DBL, S_DBL_DASH, S_DBL_DASH_DASH, S_DBL_LT };

/* Script data escaped and double-escaped states (§13.2.5.20-.31) from "escaped dash
 * dash" at pos.  Returns the offset where the script data state resumes (>= 0), -1 when
 * the window ends first, or -e - 2 when the name of an appropriate </script ends at e. */
static Py_ssize_t escaped(const uc *d, Py_ssize_t pos, Py_ssize_t n)
{
    int st = S_ESC_DASH_DASH;
    Py_ssize_t e;
    while (pos < n) {
        uc c = d[pos];
        switch (st) {
        case S_ESC:
        case S_ESC_DASH:
        case S_ESC_DASH_DASH:
            if (c == '-')
                st = st == S_ESC ? S_ESC_DASH : S_ESC_DASH_DASH;
            else if (c == '<')
                st = S_ESC_LT;
            else if (c == '>' && st == S_ESC_DASH_DASH)
                return pos + 1;
            else
                st = S_ESC;
            pos++;
            break;
        case S_ESC_LT:
            if (c == '/') { /* escaped end tag open / name */
                e = letters(d, pos + 1, n);
                if (e >= n)
                    return -1;
                if (ieq(d + pos + 1, e - pos - 1, "script") && is_delim(d[e]))
                    return -e - 2;
                st = S_ESC;
                pos = e;
            } else if (is_alpha(c)) { /* double escape start */
                e = letters(d, pos, n);
                if (e >= n)
                    return -1;
                if (is_delim(d[e])) {
                    st = ieq(d + pos, e - pos, "script") ? S_DBL : S_ESC;
                    pos = e + 1;
                } else {
                    st = S_ESC;
                    pos = e;
                }
            } else {
                st = S_ESC; /* reconsume */
            }
            break;
        case S_DBL_LT:
            if (c == '/') { /* double escape end */
                e = letters(d, pos + 1, n);
                if (e >= n)
                    return -1;
                if (is_delim(d[e]) && ieq(d + pos + 1, e - pos - 1, "script")) {
                    st = S_ESC;
                    pos = e + 1;
                } else {
                    st = S_DBL;
                    pos = e;
                }
            } else {
                st = S_DBL; /* reconsume */
            }
            break;
        default: /* double escaped, dash, dash dash */
            if (c == '-')
                st = st == S_DBL ? S_DBL_DASH : S_DBL_DASH_DASH;
            else if (c == '<')
                st = S_DBL_LT;
            else if (c == '>' && st == S_DBL_DASH_DASH)
                return pos + 1;
            else
                st = S_DBL;
            pos++;
            break;
        }
    }
    return -1;
}

/* Script data (§13.2.5.4, .15-.19): where the name of the </script end tag that ends it
 * ends, or -1. */
static Py_ssize_t script_end(const uc *d, Py_ssize_t pos, Py_ssize_t n)
{
    for (;;) {
        Py_ssize_t lt = find_byte(d, pos, n, '<'), e;
        uc c;
        if (lt < 0 || lt + 2 >= n)
            return -1;
        c = d[lt + 1];
        if (c == '/') {
            e = letters(d, lt + 2, n);
            if (e >= n)
                return -1;
            if (ieq(d + lt + 2, e - lt - 2, "script") && is_delim(d[e]))
                return e;
            pos = e;
            continue;
        }
        if (c != '!') {
            pos = lt + 1;
            continue;
        }
        if (d[lt + 2] != '-') {
            pos = lt + 2;
            continue;
        }
        if (lt + 3 >= n)
            return -1;
        if (d[lt + 3] != '-') {
            pos = lt + 3;
            continue;
        }
        pos = escaped(d, lt + 4, n);
        if (pos < 0)
            return pos == -1 ? -1 : -pos - 2;
    }
}

/* Offset just past a comment whose text starts at pos (after "<!--"), or 0
 * (§13.2.5.43-.52: "<!-->" and "<!--->" end at once, else the first "-->" or "--!>"). */
static Py_ssize_t comment_end(const uc *d, Py_ssize_t pos, Py_ssize_t n)
{
    Py_ssize_t i;
    if (pos >= n)
        return 0;
    if (d[pos] == '>')
        return pos + 1;
    if (pos + 2 <= n && d[pos] == '-' && d[pos + 1] == '>')
        return pos + 2;
    for (i = find_byte(d, pos, n, '-'); i >= 0 && i + 2 < n; i = find_byte(d, i + 1, n, '-')) {
        if (d[i + 1] != '-')
            continue;
        if (d[i + 2] == '>')
            return i + 3;
        if (d[i + 2] == '!' && i + 3 < n && d[i + 3] == '>')
            return i + 4;
    }
    return 0;
}

/* The caller's tokens, indexed by their first byte (both ASCII cases) for holds_token. */
typedef struct {
    PyObject *tokens;
    int ready, always, naive;
    uint64_t first[256];
} Tokens;

static void tokens_prepare(Tokens *t)
{
    Py_ssize_t k, nt = PyTuple_GET_SIZE(t->tokens);
    t->ready = 1;
    t->always = 0;
    t->naive = nt > 64;
    memset(t->first, 0, sizeof t->first);
    for (k = 0; k < nt; k++) {
        PyObject *tok = PyTuple_GET_ITEM(t->tokens, k);
        uc c;
        if (PyBytes_GET_SIZE(tok) == 0) {
            t->always = 1; /* b"" is in every span */
            continue;
        }
        if (t->naive)
            continue;
        c = (uc)PyBytes_AS_STRING(tok)[0];
        t->first[c] |= (uint64_t)1 << k;
        if (c >= 'a' && c <= 'z')
            t->first[c - 32] |= (uint64_t)1 << k;
    }
}

/* The index of the lowest set bit of m (m != 0). */
static Py_ssize_t lowest_bit(uint64_t m)
{
#if defined(__GNUC__) || defined(__clang__)
    return (Py_ssize_t)__builtin_ctzll(m);
#else
    Py_ssize_t k = 0;
    while (!(m & 1)) {
        m >>= 1;
        k++;
    }
    return k;
#endif
}

/* Whether token k occurs at d[i:], ASCII case-insensitively (d lowered, the token as given). */
static int token_at(const uc *d, Py_ssize_t i, Py_ssize_t b, PyObject *tok)
{
    const uc *s = (const uc *)PyBytes_AS_STRING(tok);
    Py_ssize_t len = PyBytes_GET_SIZE(tok), j;
    if (i + len > b)
        return 0;
    for (j = 0; j < len; j++)
        if (lower(d[i + j]) != s[j])
            return 0;
    return 1;
}

/* Whether d[a:b] holds one of the tokens, ASCII case-insensitively (one pass over the span,
 * a table lookup per byte). */
static int holds_token(const uc *d, Py_ssize_t a, Py_ssize_t b, Tokens *t)
{
    Py_ssize_t i, k, nt = PyTuple_GET_SIZE(t->tokens);
    const uint64_t *first = t->first;
    if (!t->ready)
        tokens_prepare(t);
    if (t->always)
        return 1;
    if (t->naive) {
        for (i = a; i < b; i++)
            for (k = 0; k < nt; k++)
                if (token_at(d, i, b, PyTuple_GET_ITEM(t->tokens, k)))
                    return 1;
        return 0;
    }
    for (i = a; i < b; i++) {
        uint64_t m = first[d[i]];
        for (; m != 0; m &= m - 1) /* the set bits only: many tokens share few first bytes */
            if (token_at(d, i, b, PyTuple_GET_ITEM(t->tokens, lowest_bit(m))))
                return 1;
    }
    return 0;
}

/* Text from pos to stop that does not end the head: whitespace, and "&" + a run of
 * [#0-9A-Za-z] + an optional ";" (maybe a character reference: "&#32;" is a space).
 * Returns the offset of the first other byte, or stop. */
static Py_ssize_t quiet_text(const uc *d, Py_ssize_t pos, Py_ssize_t stop)
{
    while (pos < stop) {
        uc c = d[pos];
        if (is_ws(c)) {
            pos++;
        } else if (c == '&') {
            Py_ssize_t j = pos + 1;
            while (j < stop && (is_alnum(d[j]) || d[j] == '#'))
                j++;
            if (j == pos + 1)
                return pos;
            pos = j;
            if (pos < stop && d[pos] == ';')
                pos++;
        } else {
            return pos;
        }
    }
    return stop;
}

typedef struct {
    int status;
    Py_ssize_t end;
} Scan;

/* HEAD_END at end, unless the window d[:n] ends less than need bytes after the bytes
 * scanned, d[:scanned], or a NUL byte lies in these (§13.2.5.1: libxml2 stalls). */
static Scan done(const uc *d, Py_ssize_t end, Py_ssize_t scanned, Py_ssize_t need, Py_ssize_t n)
{
    Scan r = {HEAD_END, end};
    if (scanned + need > n || (scanned > 0 && memchr(d, 0, (size_t)scanned) != NULL))
        r.status = UNSURE;
    return r;
}

static const Scan NOT_SURE = {UNSURE, 0};

/* The head scan proper; flagged meta spans are appended to the list `out`.  Returns
 * status -1 on a Python error.  *late (exact mode) is set when a meta is flagged after a
 * point where WHATWG's head may have ended: a text run holding "&" (a reference the scan
 * takes as blank may be text), a <noscript> after </head> ("after head": the body starts). */
static Scan scan_head(const uc *d, Py_ssize_t len, Py_ssize_t n, int at_eof, Tokens *tokens, PyObject *out,
                      int *late)
{
    Py_ssize_t pos = 0, run, lt, stop, end, i;
    Py_ssize_t need;
    int seen = 0;     /* head content came (read_head then takes text to start the body at once) */
    int noscript = 0; /* a <noscript> start tag came, and no </noscript> since */
    int head_tag = 0; /* a <head> start tag came */
    int after = 0;    /* a </head> came */
    int loose = 0;    /* past a point where WHATWG's head may have ended */
    if (len >= 3 && d[0] == 0xEF && d[1] == 0xBB && d[2] == 0xBF)
        pos = 3; /* a UTF-8 BOM */
    if (pos > n)
        return NOT_SURE;
    /* Not at the end of the document: the window must go on a little past the token that
     * ends the head, which libxml2's push parser (read_head) looks ahead for. */
    need = at_eof ? 0 : LOOKAHEAD;
    /* An XML declaration first (after whitespace): libxml2 may read it as such. */
    for (i = pos; i < n && is_ws(d[i]); i++)
        ;
    if (i + 5 <= n && d[i] == '<' && d[i + 1] == '?' && lower(d[i + 2]) == 'x' && lower(d[i + 3]) == 'm' &&
        lower(d[i + 4]) == 'l')
        return NOT_SURE;
    run = pos;
    for (;;) {
        uc c;
        lt = find_byte(d, pos, n, '<');
        stop = lt >= 0 ? lt : n;
        if (stop > pos && quiet_text(d, pos, stop) < stop) {
            /* Text that ends the head (§13.2.6.4.4 "anything else"): libxml2 reports it once
             * it sees the "<" after it, so that "<" must be in the window too. */
            if (at_eof && lt < 0)
                return done(d, run, n, 0, n);
            /* Before any head content, read_head waits for the next start tag; in a
             * <noscript>, it reads text as the element's (WHATWG: the head ends). */
            if (lt < 0 || noscript || !(seen || at_eof))
                return NOT_SURE;
            return done(d, run, lt + 1, need, n);
        }
        if (late != NULL && stop > pos && memchr(d + pos, '&', (size_t)(stop - pos)) != NULL)
            loose = 1; /* "&nbsp;", "&amp;": text, the body's start for WHATWG */
        if (lt < 0)
            return at_eof ? done(d, n, n, 0, n) : NOT_SURE;
        if (lt + 1 >= n)
            return NOT_SURE;
        c = d[lt + 1];
        if (is_alpha(c)) { /* start tag */
            Py_ssize_t name_end = tag_name_end(d, lt + 1, n);
            const char *name = NULL;
            int kind = tag_kind(d + lt + 1, name_end - lt - 1, &name);
            end = tag_end(d, name_end, n, NULL);
            if (end < 0)
                return NOT_SURE;
            switch (kind) {
            case T_TITLE:
            case T_STYLE:
            case T_NOFRAMES:
            case T_SCRIPT: {
                Py_ssize_t close;
                seen = 1;
                if (d[end - 2] == '/')
                    return NOT_SURE; /* <title/>: libxml2 honours the "/", WHATWG does not */
                close = kind == T_SCRIPT ? script_end(d, end, n) : raw_end(d, end, n, name);
                if (close < 0)
                    return NOT_SURE;
                end = tag_end(d, close, n, NULL); /* the end tag's attributes */
                if (end < 0)
                    return NOT_SURE;
                break;
            }
            case T_META:
                seen = 1;
                if (holds_token(d, lt, end, tokens)) {
                    PyObject *span = Py_BuildValue("(nn)", lt, end);
                    if (loose && late != NULL)
                        *late = 1;
                    if (span == NULL || PyList_Append(out, span) < 0) {
                        Py_XDECREF(span);
                        return (Scan){-1, 0};
                    }
                    Py_DECREF(span);
                }
                break;
            case T_NOSCRIPT:
                noscript = 1;
                if (after)
                    loose = 1; /* "after head": <noscript> is "anything else", the body */
                break;
            case T_HEAD:
                head_tag = 1;
                seen = 1;
                break;
            case T_BASE:
            case T_BASEFONT:
            case T_BGSOUND:
            case T_LINK:
                seen = 1;
                break; /* head content: the head goes on */
            case T_HTML:
                break; /* ignored */
            case T_TEMPLATE:
                return NOT_SURE;
            default:
                /* WHATWG ("in head noscript"): the start tag pops the <noscript> and ends the
                 * head; read_head agrees after a <head> start tag, but with the head implied
                 * it reads on to the document's end. */
                if (noscript && !head_tag)
                    return NOT_SURE;
                return done(d, lt, end, need, n);
            }
            pos = run = end;
            continue;
        }
        if (c == '/') {
            if (lt + 2 >= n)
                return NOT_SURE;
            c = d[lt + 2];
            if (is_alpha(c)) { /* end tag */
                Py_ssize_t name_end = tag_name_end(d, lt + 2, n);
                int kind = tag_kind(d + lt + 2, name_end - lt - 2, NULL);
                end = tag_end(d, name_end, n, NULL);
                if (end < 0)
                    return NOT_SURE;
                /* WHATWG: </body>, </html>, </br> end the head ("in head noscript" ignores the
                 * first two); read_head (libxml2) reads on, so its verdict may differ. */
                if (kind == T_BR || kind == T_BODY || kind == T_HTML)
                    return NOT_SURE;
                if (kind == T_NOSCRIPT)
                    noscript = 0;
                else if (kind == T_HEAD)
                    after = 1;
            } else if (c == '>') { /* "</>": nothing */
                end = lt + 3;
            } else { /* bogus comment */
                end = find_byte(d, lt + 2, n, '>') + 1;
            }
        } else if (c == '!') {
            if (lt + 4 <= n && d[lt + 2] == '-' && d[lt + 3] == '-')
                end = comment_end(d, lt + 4, n);
            else /* DOCTYPE or bogus comment: both end at the first ">" */
                end = find_byte(d, lt + 2, n, '>') + 1;
        } else if (c == '?') { /* bogus comment */
            end = find_byte(d, lt + 2, n, '>') + 1;
        } else {
            /* "<" + anything else is text, which ends the head. */
            return (seen || at_eof) && !noscript ? done(d, run, lt + 2, need, n) : NOT_SURE;
        }
        if (end <= 0)
            return NOT_SURE;
        pos = run = end;
    }
}

static PyObject *py_scan_head_tags(PyObject *self, PyObject *args)
{
    Py_buffer buf;
    Py_ssize_t limit, n, k;
    int eof, exact = 0, late = 0;
    PyObject *tokens, *out, *result = NULL;
    Tokens toks;
    Scan r;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*npO!|p:scan_head_tags", &buf, &limit, &eof, &PyTuple_Type, &tokens, &exact))
        return NULL;
    for (k = 0; k < PyTuple_GET_SIZE(tokens); k++) {
        if (!PyBytes_Check(PyTuple_GET_ITEM(tokens, k))) {
            PyErr_SetString(PyExc_TypeError, "tokens must be a tuple of bytes");
            PyBuffer_Release(&buf);
            return NULL;
        }
    }
    out = PyList_New(0);
    if (out == NULL) {
        PyBuffer_Release(&buf);
        return NULL;
    }
    n = limit < 0 ? 0 : (limit > buf.len ? buf.len : limit);
    toks.tokens = tokens;
    toks.ready = 0;
    r = scan_head((const uc *)buf.buf, buf.len, n, eof && n == buf.len, &toks, out, exact ? &late : NULL);
    if (r.status == HEAD_END) {
        PyObject *flagged = PyList_AsTuple(out);
        if (flagged != NULL)
            result = Py_BuildValue("(inN)", late ? HEAD_END_LOOSE : HEAD_END, r.end, flagged);
    } else if (r.status == UNSURE) {
        result = Py_BuildValue("(in())", UNSURE, (Py_ssize_t)0);
    }
    Py_DECREF(out);
    PyBuffer_Release(&buf);
    return result;
}

/* ---- media mode ------------------------------------------------------------------------ */

#define PARENT_UNKNOWN (-1)
#define PARENT_OTHER (-2)

/* The index of name in the tuple names (the first one equal, ASCII case-insensitively, to
 * the bytes as given), or -1. */
static Py_ssize_t name_index(const uc *name, Py_ssize_t nlen, PyObject *names)
{
    Py_ssize_t k, i, nn = PyTuple_GET_SIZE(names);
    for (k = 0; k < nn; k++) {
        PyObject *t = PyTuple_GET_ITEM(names, k);
        const uc *s = (const uc *)PyBytes_AS_STRING(t);
        if (PyBytes_GET_SIZE(t) != nlen)
            continue;
        for (i = 0; i < nlen && lower(name[i]) == s[i]; i++)
            ;
        if (i == nlen)
            return k;
    }
    return -1;
}

static int add_tag(PyObject *out, Py_ssize_t index, Py_ssize_t start, Py_ssize_t stop, int parent)
{
    PyObject *t = Py_BuildValue("(nnni)", index, start, stop, parent);
    int r;
    if (t == NULL)
        return -1;
    r = PyList_Append(out, t);
    Py_DECREF(t);
    return r;
}

/* A bound on libxml2's open-element depth (lxml drops what is nested deeper than
 * MAX_DEPTH, even with huge_tree): per element name, start tags opened minus end tags of
 * that name met while the count is positive.  An end tag decrements only when libxml2
 * closed an element of its name then or before, so the sum never falls below libxml2's
 * depth (less the html, head, body and p it implies).  Names longer than DEPTH_NAME share
 * one count that end tags never decrement; more than DEPTH_SLOTS names is unsure. */
#define MAX_DEPTH 1900
#define DEPTH_SLOTS 1024
#define DEPTH_NAME 24
typedef struct {
    uc name[DEPTH_NAME];
    uc len; /* 0: free slot */
    Py_ssize_t count;
} depth_slot;
typedef struct {
    depth_slot slots[DEPTH_SLOTS];
    Py_ssize_t used, total, long_names;
} depth_table;

/* The count of the (lowercased) name d[0:len]; NULL when the table is full. */
static Py_ssize_t *depth_count(depth_table *t, const uc *d, Py_ssize_t len)
{
    uint32_t h = 2166136261u;
    Py_ssize_t i, j;
    for (i = 0; i < len; i++)
        h = (h ^ lower(d[i])) * 16777619u;
    for (j = 0; j < DEPTH_SLOTS; j++) {
        depth_slot *s = &t->slots[(h + (uint32_t)j) % DEPTH_SLOTS];
        if (s->len == 0) {
            if (t->used * 2 >= DEPTH_SLOTS)
                return NULL;
            t->used++;
            s->len = (uc)len;
            for (i = 0; i < len; i++)
                s->name[i] = lower(d[i]);
            return &s->count;
        }
        if (s->len == len) {
            for (i = 0; i < len && s->name[i] == lower(d[i]); i++)
                ;
            if (i == len)
                return &s->count;
        }
    }
    return NULL;
}

/* An element named d[0:len] opened (open=1) or an end tag of that name (0).  Returns 0, or
 * UNSURE when libxml2's depth could pass MAX_DEPTH or the table is full. */
static int depth_step(depth_table *t, const uc *d, Py_ssize_t len, int open)
{
    Py_ssize_t *c;
    if (len > DEPTH_NAME) {
        if (open)
            t->total++;
    } else {
        c = depth_count(t, d, len);
        if (c == NULL)
            return UNSURE;
        if (open) {
            (*c)++;
            t->total++;
        } else if (*c > 0) {
            (*c)--;
            t->total--;
        }
    }
    return t->total > MAX_DEPTH ? UNSURE : 0;
}

/* The media scan proper: appends (name_index, start, stop, parent) to out.  Returns 0 (the
 * whole document read), 1 (unsure) or -1 (a Python error). */
static int scan_media_depth(const uc *d, Py_ssize_t n, PyObject *names, PyObject *out, depth_table *depth);

static int scan_media(const uc *d, Py_ssize_t n, PyObject *names, PyObject *out)
{
    int r;
    depth_table *depth = PyMem_Calloc(1, sizeof(depth_table));
    if (depth == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    r = scan_media_depth(d, n, names, out, depth);
    PyMem_Free(depth);
    return r;
}

static int scan_media_depth(const uc *d, Py_ssize_t n, PyObject *names, PyObject *out, depth_table *depth)
{
    Py_ssize_t pos = 0, lt, end;
    int parent = PARENT_UNKNOWN; /* what the parent of a tag here would be */
    Py_ssize_t svg = 0, math = 0; /* open <svg> / <math> start tags (foreign content) */
    /* As in htmlscan.py: a start tag or text seen (libxml2's root element is open), and one
     * other than <html>; an end tag, "</x" or "<?" seen before that; a <body> seen; an <html>,
     * <head> or <body> that may be misplaced (libxml2 counts those, and an </html> then only
     * lowers the count). */
    int opened = 0, other = 0, stray = 0, body = 0, misplaced = 0;
    if (n > 0 && memchr(d, 0, (size_t)n) != NULL)
        return UNSURE;
    for (;;) {
        uc c;
        Py_ssize_t i;
        lt = find_byte(d, pos, n, '<');
        for (i = pos; (parent != PARENT_UNKNOWN || !opened) && i < (lt >= 0 ? lt : n); i++) {
            if (!is_ws(d[i])) {
                Py_ssize_t j, stop = lt >= 0 ? lt : n;
                int ascii = 1;
                parent = PARENT_UNKNOWN; /* text */
                for (j = pos; !opened && j < stop; j++)
                    ascii &= d[j] < 0x80;
                /* Non-ASCII text first (a second BOM: libxml2 does not open its root for it):
                 * not modelled, so an </html> then is unsure. */
                if (opened || ascii)
                    opened = other = 1;
                else
                    stray = 1;
                break;
            }
        }
        if (lt < 0)
            return HEAD_END;
        if (lt + 1 >= n || (d[lt + 1] == '/' && lt + 2 >= n))
            return UNSURE; /* "<" or "</" at the end */
        c = d[lt + 1];
        if (is_alpha(c) || (c == '/' && is_alpha(d[lt + 2]))) {
            int is_end = c == '/';
            const uc *name = d + lt + 1 + is_end;
            Py_ssize_t name_end = tag_name_end(d, lt + 1 + is_end, n), nlen = name_end - (lt + 1 + is_end), k;
            const char *raw = NULL;
            int kind = tag_kind(name, nlen, &raw), closed = 0;
            end = tag_end(d, name_end, n, &closed);
            if (end < 0)
                return UNSURE; /* EOF in a tag */
            if (is_end) {
                if (depth_step(depth, name, nlen, 0) == UNSURE)
                    return UNSURE;
                parent = PARENT_UNKNOWN;
                if (kind == T_HTML) {
                    /* libxml2 ends the document at </html> once its root is open (a start
                     * tag or text came first; WHATWG goes back to "in body"). */
                    if (opened && !misplaced)
                        return HEAD_END;
                    if (stray || misplaced)
                        return UNSURE;
                } else {
                    stray = 1;
                }
                if (kind == T_SVG)
                    svg = svg > 0 ? svg - 1 : 0;
                else if (kind == T_MATH)
                    math = math > 0 ? math - 1 : 0;
                pos = end;
                continue;
            }
            if (kind == T_HTML) {
                misplaced |= opened;
            } else {
                if (kind == T_HEAD) {
                    misplaced |= other;
                } else if (kind == T_BODY) {
                    misplaced |= body;
                    body = 1;
                }
                other = 1;
            }
            opened = 1;
            k = name_index(name, nlen, names);
            if (k >= 0 && add_tag(out, k, lt, end, parent) < 0)
                return -1;
            /* libxml2 honours the self-closing flag on every element (WHATWG: on void and
             * foreign ones only): a self-closed element is as empty as a void one. */
            if (IS_VOID(kind) || (closed && kind != T_HTML && kind != T_BODY && kind != T_HEAD &&
                                  !IS_RAW_TEXT(kind) && kind != T_SVG && kind != T_MATH)) {
                /* libxml2 may close the open element on a void or self-closed start tag
                 * (<p><hr>, <p><div/>): the parent of what follows is not known, except
                 * after an <img> (<picture><img><source>). */
                if (!ieq(name, nlen, "img"))
                    parent = PARENT_UNKNOWN;
                pos = end;
                continue;
            }
            if (IS_RAW_TEXT(kind)) {
                Py_ssize_t close, rl = (Py_ssize_t)strlen(raw);
                if (closed)
                    return UNSURE;
                if (svg || math) {
                    /* Foreign content: no raw text.  The same tokens if the content holds no "<". */
                    Py_ssize_t q = find_byte(d, end, n, '<');
                    if (kind == T_PLAINTEXT)
                        return q >= 0 ? UNSURE : HEAD_END;
                    close = -1;
                    if (q >= 0 && q + 1 < n && d[q + 1] == '/' && q + 2 + rl < n && ieq(d + q + 2, rl, raw) &&
                        is_delim(d[q + 2 + rl]))
                        close = q + 2 + rl;
                } else if (kind == T_PLAINTEXT) {
                    return HEAD_END;
                } else if (kind == T_SCRIPT) {
                    close = script_end(d, end, n);
                } else {
                    close = raw_end(d, end, n, raw);
                }
                if (close < 0)
                    return UNSURE; /* EOF in raw text, or "<" in foreign content */
                end = tag_end(d, close, n, NULL); /* the end tag's attributes */
                if (end < 0)
                    return UNSURE;
                parent = PARENT_UNKNOWN; /* an end tag */
            } else {
                if (kind == T_SVG)
                    svg++;
                else if (kind == T_MATH)
                    math++;
                if (!closed && depth_step(depth, name, nlen, 1) == UNSURE)
                    return UNSURE;
                /* A stray <html>, <head> or <body> makes no element in libxml2. */
                parent = (closed || kind == T_HTML || kind == T_HEAD || kind == T_BODY)
                             ? PARENT_UNKNOWN
                             : (k < 0 ? PARENT_OTHER : (int)k);
            }
            pos = end;
            continue;
        }
        if (c == '/') { /* "</>" is nothing; "</" + anything else, a bogus comment */
            end = d[lt + 2] == '>' ? lt + 3 : find_byte(d, lt + 2, n, '>') + 1;
            stray = 1;
        } else if (c == '!') {
            if (lt + 4 <= n && d[lt + 2] == '-' && d[lt + 3] == '-') {
                end = comment_end(d, lt + 4, n);
            } else if (lt + 9 <= n && memcmp(d + lt + 2, "[CDATA[", 7) == 0) {
                return UNSURE; /* a CDATA section in foreign content, else a bogus comment */
            } else { /* DOCTYPE or bogus comment: both end at the first ">" */
                end = find_byte(d, lt + 2, n, '>') + 1;
                if (lt + 9 <= n && ieq(d + lt + 2, 7, "doctype"))
                    parent = PARENT_UNKNOWN;
            }
        } else if (c == '?') { /* bogus comment */
            end = find_byte(d, lt + 2, n, '>') + 1;
            stray = 1;
        } else { /* "<" + anything else is text */
            parent = PARENT_UNKNOWN;
            opened = other = 1;
            pos = lt + 1;
            continue;
        }
        if (end <= 0)
            return UNSURE; /* EOF in a comment */
        pos = end;
    }
}

static PyObject *py_media_tags(PyObject *self, PyObject *args)
{
    Py_buffer buf;
    Py_ssize_t limit, n, k;
    PyObject *names, *out, *result = NULL;
    int r;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*nO!:media_tags", &buf, &limit, &PyTuple_Type, &names))
        return NULL;
    for (k = 0; k < PyTuple_GET_SIZE(names); k++) {
        if (!PyBytes_Check(PyTuple_GET_ITEM(names, k))) {
            PyErr_SetString(PyExc_TypeError, "names must be a tuple of bytes");
            PyBuffer_Release(&buf);
            return NULL;
        }
    }
    out = PyList_New(0);
    if (out == NULL) {
        PyBuffer_Release(&buf);
        return NULL;
    }
    n = limit < 0 ? 0 : (limit > buf.len ? buf.len : limit);
    r = scan_media((const uc *)buf.buf, n, names, out);
    if (r == HEAD_END) {
        PyObject *tags = PyList_AsTuple(out);
        if (tags != NULL)
            result = Py_BuildValue("(iN)", HEAD_END, tags);
    } else if (r == UNSURE) {
        result = Py_BuildValue("(i())", UNSURE);
    }
    Py_DECREF(out);
    PyBuffer_Release(&buf);
    return result;
}

static PyMethodDef methods[] = {
    {"scan_head_tags", py_scan_head_tags, METH_VARARGS,
     "scan_head_tags(data, limit, eof, tokens, exact=False) -> (status, end, flagged): see noai_guard.htmlscan."},
    {"media_tags", py_media_tags, METH_VARARGS,
     "media_tags(data, limit, names) -> (status, tags): see noai_guard.htmlscan."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_htmlscan", "Internal: C implementation of noai_guard.htmlscan.", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__htmlscan(void)
{
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    if (PyModule_AddIntConstant(m, "HEAD_END", HEAD_END) < 0 || PyModule_AddIntConstant(m, "UNSURE", UNSURE) < 0 ||
        PyModule_AddIntConstant(m, "HEAD_END_LOOSE", HEAD_END_LOOSE) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
