#!/usr/bin/env python3
"""Agreement between vigie's alerts and the reference IDS's on the same capture:
Jaccard index over (signature_id, community_id) pairs, and the pairs each side alone has.

usage: alert-agreement.py EVE_JSON REFERENCE_TSV [--show N]
REFERENCE_TSV: ../shared/reference/suricata-et2024-corpus-mix.tsv (header: signature_id gid rev community_id ...)
"""
import collections, csv, json, sys

def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    show = int(sys.argv[sys.argv.index("--show") + 1]) if "--show" in sys.argv else 15
    ours, names = set(), {}
    with open(sys.argv[1]) as f:
        for line in f:
            e = json.loads(line)
            if e.get("event_type") == "alert":
                k = (int(e["alert"]["signature_id"]), e.get("community_id", ""))
                ours.add(k)
                names[k[0]] = e["alert"]["signature"]
    ref = set()
    with open(sys.argv[2]) as f:
        for row in csv.DictReader(f, delimiter="\t"):
            k = (int(row["signature_id"]), row["community_id"])
            ref.add(k)
            names.setdefault(k[0], row["signature"])
    inter = ours & ref
    union = ours | ref
    j = len(inter) / len(union) if union else 1.0
    print(f"vigie {len(ours)} pairs, reference {len(ref)} pairs, both {len(inter)}; Jaccard {j:.3f}")
    for title, only in (("only reference", ref - ours), ("only vigie", ours - ref)):
        c = collections.Counter(s for s, _ in only)
        print(f"{title}: {len(only)} pairs, by signature:")
        for sid, n in c.most_common(show):
            print(f"  {n:5d}  {sid}  {names.get(sid, '')}")

main()
