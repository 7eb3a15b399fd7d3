"""Re-verify every kept example of an `ipqa sft build` directory against the index it was built
from, independently of the build: the answer's citations through ipqa's verifier (lexical judge,
threshold 0.3) with the example's own sources (by chunk id). Prints counts as JSON.

    IPQA_DATA_DIR=... python benchmarks/sft_verify.py --data runs/sft-data
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True)
    args = parser.parse_args()

    from indexes.snapshot import open_snapshot
    from ipqa.domain import Hit
    from ipqa.settings import Settings
    from rag.judges import LexicalJudge
    from rag.verify import CitationVerifier, law_titles_in_store
    from sft.records import read_examples

    settings = Settings()
    snapshot = open_snapshot(settings.index_root, embedder=None)
    counts: Counter = Counter()
    try:
        verifier = CitationVerifier(snapshot.store, LexicalJudge(), threshold=settings.support_threshold,
                                    known_laws=law_titles_in_store(snapshot.store))
        for name in ("train.jsonl", "validation.jsonl"):
            for example in read_examples(args.data / name):
                counts["examples"] += 1
                chunks = snapshot.store.chunks(example.source_ids)
                if [c.citation for c in chunks] != list(example.sources):
                    counts["sources_missing"] += 1
                    continue
                verification = verifier.verify(example.messages[2].content, [Hit(chunk=c, score=1.0) for c in chunks])
                counts["citations"] += len(verification.citations)
                counts["citations_verified"] += sum(c.verified for c in verification.citations)
                cited = [s for s in verification.statements if s.citation_numbers]
                counts["cited_statements"] += len(cited)
                counts["cited_statements_supported"] += sum(s.supported for s in cited)
    finally:
        snapshot.close()
    print(json.dumps(dict(counts)))


if __name__ == "__main__":
    main()
