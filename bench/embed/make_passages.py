"""Write the deterministic benchmark corpus shared by st_bench.py and embed_bench.

Usage: python3 make_passages.py [OUT] [COUNT]   (default bench/passages.txt, 1000)
One passage of ~100 words per line, from a fixed word list and a seeded RNG,
so the Rust and Python benchmarks embed byte-identical inputs.
"""
import os
import random
import sys

WORDS = """the of and to in is was for on that with as by at from his her an
which are be this were has had it not or but have their they one all also
its been more after first who two new other into time when can would there
year city over about during later some most may only state used world between
under system school made part these three river house area game being known
out team through many then both where series while since them music war
company national before such second film called however including village
season population each university album county american because number life
south north based local water began several against government name church
public early played family until around well league station york back line
world group another death road east west small high american league became
four main member work around five main west home end district region york
police court power energy market data model network language learning search
index query vector storage server client request response memory cache thread
process kernel matrix layer token sentence document passage retrieval ranking
garden mountain ocean forest winter summer autumn spring morning evening light
history science library museum theatre painting novel poem writer engineer""".split()


def make(count: int, seed: int = 1234) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        sentences = []
        n_words = 0
        while n_words < 100:
            length = rng.randint(8, 18)
            words = [rng.choice(WORDS) for _ in range(length)]
            words[0] = words[0].capitalize()
            sentences.append(" ".join(words) + ".")
            n_words += length
        out.append(" ".join(sentences))
    return out


if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "passages.txt")
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    with open(path, "w", encoding="utf-8") as f:
        for p in make(count):
            f.write(p + "\n")
    print(f"wrote {count} passages to {path}")
