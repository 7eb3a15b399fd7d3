"""Follow-up questions over a real index: R@10 of each elliptical follow-up asked with its history
(the first turn's question, answer and verified citations) against the same question asked in full
and the follow-up asked alone. The twenty conversations are the tests' (tests/followup_conversations.py).

    IPQA_DATA_DIR=/work/var-full python benchmarks/followups.py [--json]

Uses the configured retriever and answerer (Settings from the environment), as `ipqa ask` does.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

K = 10


def main() -> None:
    parser = argparse.ArgumentParser(description="R@10 of follow-ups with history vs the full questions")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    from api.conversation_access import turn_of
    from evals.gold import GoldResolver, ranked_labels
    from ipqa.metrics import recall_at_k
    from followup_conversations import CONVERSATIONS
    from indexes.build import BuildOptions
    from indexes.embedder import configured_embedder
    from indexes.manager import IndexManager
    from ipqa.runtime import configure_torch
    from ipqa.settings import Settings
    from rag.pipeline import build_answerer

    settings = Settings()
    configure_torch(settings.torch_threads)
    manager = IndexManager(settings.index_root, embedder=configured_embedder(settings),
                           options=BuildOptions.from_settings(settings))
    manager.reload()
    rows = []
    started = time.perf_counter()
    with manager.acquire() as snapshot:
        answerer = build_answerer(settings, snapshot)
        gold_of = GoldResolver(snapshot.store)
        for conversation in CONVERSATIONS:
            gold = gold_of.resolve_all(conversation.gold)
            labels = [g.label for g in gold]

            def recall(hits) -> float:  # type: ignore[no-untyped-def]
                return recall_at_k(ranked_labels(list(hits), gold), labels, K)

            first = answerer.answer(conversation.first)
            followed = answerer.answer(conversation.followup, history=[turn_of(first)])
            rows.append({"followup": conversation.followup, "standalone": followed.standalone_question,
                         "full": recall(answerer.retriever.retrieve(conversation.full, K)),
                         "with_history": recall(followed.evidence),
                         "alone": recall(answerer.retriever.retrieve(conversation.followup, K)),
                         "unresolved_gold": [g.label for g in gold if not g.resolved]})
    means = {key: round(sum(r[key] for r in rows) / len(rows), 3) for key in ("full", "with_history", "alone")}
    result = {"index_version": manager.version, "k": K, "conversations": len(rows), "means": means,
              "share_of_full": round(means["with_history"] / means["full"], 3) if means["full"] else None,
              "per_conversation_at_least_90pct": sum(r["with_history"] >= 0.9 * r["full"] for r in rows),
              "seconds": round(time.perf_counter() - started, 1), "rows": rows}
    manager.close()
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return
    for r in rows:
        print(f"full {r['full']:.2f}  history {r['with_history']:.2f}  alone {r['alone']:.2f}  {r['followup']}")
    print(f"mean R@{K}: full {means['full']}, with history {means['with_history']}, alone {means['alone']}; "
          f"share {result['share_of_full']}; {result['per_conversation_at_least_90pct']}/{len(rows)} "
          f"conversations at >= 90% of full; index {result['index_version']}; {result['seconds']} s")


if __name__ == "__main__":
    main()
