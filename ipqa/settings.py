"""The one configuration object. Read once at the edge (CLI command, API lifespan), then passed down
as plain typed arguments: nothing below the edge reads the environment.

Every field can be set from the environment as ``IPQA_<FIELD>`` (lists and dicts as JSON), or from a
``.env`` file in the working directory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


def default_shared_data() -> Path:
    """``../shared/data`` beside the repository root (overridden by IPQA_SHARED_DATA)."""
    return REPO_ROOT.parent / "shared" / "data"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="IPQA_", env_file=".env", extra="ignore")

    # --- where things live -------------------------------------------------------------------
    data_dir: Path = Field(default=Path("var"), description="Index versions, uploads, job records.")
    shared_data: Path = Field(default_factory=default_shared_data, description="The real corpora.")
    keep_versions: int = Field(default=3, ge=1, description="Index versions kept when pruning.")

    # --- ingestion ---------------------------------------------------------------------------
    max_file_bytes: int = Field(default=100 * 1024 * 1024, ge=1, description="Bigger files are refused.")
    ingest_jobs: int = Field(default=2, ge=1)

    # --- embedding and dense index -----------------------------------------------------------
    embedder: str = Field(default="minilm", description="Registry name or a local model directory.")
    embedder_languages: list[str] | None = Field(
        default=None, description="Languages a path-configured embedder serves (e.g. [\"zh\",\"en\"])."
    )
    embedder_en: str = Field(
        default="auto",
        description="The English model in place of the bundled `minilm`: auto = the model `ipqa train embedder "
                    "--language en` adapted under <data_dir>/models/embedder-en when it exists; none = the bundled "
                    "MiniLM; or a path. A model directory configured as `embedder` is used as it is.",
    )
    embedder_zh: str = Field(
        default="auto",
        description="The Chinese embedder beside an English-only one: auto = the model `ipqa train embedder "
                    "--language zh` wrote under <data_dir>/models/embedder-zh when it exists; none; or a path.",
    )
    embed_device: str = Field(default="auto", description="auto | cpu | cuda | cuda:N")
    embed_batch_size: int = Field(default=64, ge=1)
    embed_query_runtime: Literal["auto", "torch", "onnx"] = Field(
        default="auto",
        description="What encodes queries on a CPU: auto = ONNX Runtime when it reproduces the torch vectors "
                    "(2.8x faster for one query), else torch.",
    )
    embed_runtime: Literal["auto", "torch", "torch-bf16", "onnx-int8"] = Field(
        default="auto",
        description="What encodes documents when an index is built (indexes/document_runtime.py): auto = "
                    "torch-bf16 on a CPU with native bfloat16 (2x fp32's speed, cosine to fp32 >= 0.9999), "
                    "else torch (fp32); onnx-int8 = ONNX Runtime int8 (about as fast, cosine ~0.99).",
    )
    torch_threads: int | None = Field(
        default=1, ge=1,
        description="torch intra-op threads of serving processes (CLI search/ask, API); None = torch's "
                    "default. 1: on a busy 2-core box 2 threads spin-wait on each other (MiniLM query "
                    "embedding 810 ms vs 21 ms).",
    )
    dense_index: Literal["flat", "hnsw", "ivf"] = "flat"
    bm25_k1: float = Field(default=1.2, gt=0)
    bm25_b: float = Field(default=0.75, ge=0, le=1)

    # --- retrieval ---------------------------------------------------------------------------
    fusion: Literal["rrf", "weighted"] = "rrf"
    rrf_k: int = Field(default=60, ge=1)
    fusion_weights: dict[str, dict[str, float]] = Field(
        default_factory=lambda: {"zh": {"bm25": 1.0, "dense": 1.0}, "en": {"bm25": 0.5, "dense": 0.5}},
        description="Per query language: weight of each retriever in the fused score.",
    )
    top_k: int = Field(default=10, ge=1, le=200)
    # The first-stage depth: `ipqa train reranker` trains the LTR model at this depth (keep them equal:
    # retrain after changing it). With the tree reranker, 300 candidates from lists 300 deep cross-validate
    # STARD R@100 0.8805 as served against 0.873 at 150 from lists 300 deep, at a search p50 of 23-27 ms
    # (the target is 30); 400 did no better (docs/benchmarks.md, "300 candidates by default").
    candidates: int = Field(default=300, ge=1, le=2000)
    list_depth_factor: int = Field(
        default=1, ge=1, le=10,
        description="Each first-stage search (BM25, named-law BM25, dense) returns candidates x this many hits "
                    "and fusion keeps the best `candidates`: with 2, an article 200th by BM25 and 40th by dense "
                    "gets both votes. With 150 candidates, 2 cross-validated better than 1 on STARD; 300 "
                    "candidates from lists 300 deep (1) do better than either (docs/benchmarks.md).")
    expand_references: bool = True
    reranker: str = Field(default="auto", description="none | ltr | cross-encoder | auto")
    reranker_path: Path | None = None
    ltr_model_path: Path | None = Field(default=None, description="Output of `ipqa train reranker`.")
    ltr_extra_models: list[Path] | None = Field(
        default=None,
        description="More LTR artefacts served beside ltr_model_path, each for the fields its training "
                    "validated (e.g. one trained on IP questions: `ipqa train reranker --dataset "
                    "rag/data/ip_questions.jsonl --out <data_dir>/models/ltr-ip`). None = every "
                    "<data_dir>/models/ltr-* directory holding a model; [] = none.",
    )
    reranker_fields: Literal["auto", "all"] | list[str] | None = Field(
        default="auto",
        description="Fields of law whose questions the learned reranker reorders: auto = the fields where "
                    "`ipqa train reranker` validated it better than the first stage by cross-validation "
                    "(recorded in its artefact; an artefact without that record: the fields other than IP, "
                    "as STARD-only models were validated); all (or None); or a JSON list of fields.",
    )
    field_model: str = Field(
        default="auto",
        description="The field-of-law model of the domain prior: auto = <data_dir>/models/fields when "
                    "`ipqa train fields` wrote it; none; or a directory.",
    )
    field_prior_weights: dict[str, float] = Field(
        default_factory=lambda: {"zh": 0.01, "en": 0.0},
        description="Domain prior: weight of P(field | question) per query language (English: 0, measured "
                    "to hurt; docs/benchmarks.md).")
    local_rule_penalty: float = Field(default=0.01, ge=0, description="Domain prior: local regulations.")
    patent_text_penalty: float = Field(default=0.01, ge=0,
                                       description="Domain prior: patent text for questions about the law.")

    # --- generation and verification ---------------------------------------------------------
    generator: str = Field(default="extractive", description="extractive | local | openai")
    llm_path: Path | None = None
    lora_path: Path | None = None
    openai_base_url: str | None = None
    openai_model: str | None = None
    openai_api_key: str | None = None
    max_new_tokens: int = Field(default=512, ge=1)
    temperature: float = Field(default=0.0, ge=0)
    support_judge: str = Field(default="lexical", description="lexical | cross-encoder | nli")
    support_judge_path: Path | None = None
    support_threshold: float = Field(default=0.3, ge=0, le=1)
    min_evidence_score: float | None = Field(
        default=None,
        description="`ask` abstains when the best hit scores below this; None (the default) = no cut. "
                    "Hit scores are on the fusion's or reranker's scale (RRF tops out near 1/61 per list, "
                    "the LTR reranker gives logits, often negative), so a fixed cut is not portable; "
                    "answers abstain anyway when no statement is supported by its citations.",
    )

    # --- API ---------------------------------------------------------------------------------
    api_keys: list[str] = Field(default_factory=list, description="Keys with read access.")
    write_api_keys: list[str] = Field(default_factory=list, description="Keys with write access.")
    read_requires_key: bool = Field(
        default=False,
        description="Close the read endpoints even when only write keys are configured (configuring read "
                    "keys closes them anyway).")
    max_question_chars: int = Field(default=2000, ge=1)
    max_upload_bytes: int = Field(default=20 * 1024 * 1024, ge=1)
    max_upload_files: int = Field(default=20, ge=1)
    upload_extensions: list[str] = Field(
        default_factory=lambda: [".md", ".txt", ".xml", ".html", ".htm", ".pdf", ".docx"]
    )
    api_threads: int = Field(
        # 2, measured (docs/benchmarks.md, "Serving costs"): requests are CPU-bound and share the GIL;
        # with 2 workers on 2 cores, 2 threads gave 10-15% more searches/s than 4 once the reranked
        # search cost ~9 ms (4 was best when it cost ~25 ms; 8 lengthened the p99).
        default=2, ge=1, le=256,
        description="Threads serving blocking API requests (search, ask…); more requests wait on the "
                    "event loop.",
    )
    conversation_retention_days: float = Field(
        default=30, gt=0, description="Server-side conversations untouched this long are deleted.")
    max_conversations: int = Field(default=10_000, ge=1, description="Newest conversations kept.")
    max_conversation_turns: int = Field(default=50, ge=1, description="Turns kept per conversation (newest).")
    served_model_name: str = Field(
        default="ipqa", description="The model id of the OpenAI-compatible endpoint (/v1/models).")
    rebuild_sources: list[Path] = Field(
        default_factory=list,
        description="What `POST /v1/index/rebuild` ingests (plus the uploads); a request may only name "
                    "paths inside these or the uploads directory.",
    )

    @field_validator("torch_threads", mode="before")
    @classmethod
    def _torch_default(cls, value: object) -> object:
        # IPQA_TORCH_THREADS=default (or none / empty) leaves torch's own thread count
        if isinstance(value, str) and value.strip().lower() in ("", "none", "null", "default"):
            return None
        return value

    @field_validator("data_dir", "shared_data", mode="after")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser()

    @property
    def index_root(self) -> Path:
        return self.data_dir / "index"

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"

    @property
    def jobs_dir(self) -> Path:
        return self.data_dir / "jobs"

    @property
    def conversations_path(self) -> Path:
        return self.data_dir / "conversations.sqlite"
