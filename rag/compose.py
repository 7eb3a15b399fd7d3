"""The composition root: the one place where :class:`~ipqa.settings.Settings` become objects.

Entry points (the ``ipqa`` commands, the API's app factory, the evals, benchmarks and scripts)
construct ``Settings()`` once and pass it here; everything below this module receives plain typed
arguments (options dataclasses, objects) and never sees ``Settings``. It lives in ``rag/`` because
that is the lowest layer that may import every layer it wires (``ipqa < ingest < indexes < rag``);
``api/`` and ``evals/`` sit above it and call it.

What each setting turns into:

* the embedder (:func:`build_embedder`; ``one_shot`` commands get a deferred one that loads its
  model only for a query in a language it serves, and encodes that one query with torch);
* the build options of index jobs (:func:`build_options`);
* the reranker (:func:`build_reranker`, ``auto`` resolved by the reranker registry), the domain
  prior (:func:`build_domain_prior`) and the hybrid retriever around them (:func:`build_retriever`);
* the generator and the support judge (:func:`build_generator`, :func:`build_judge`) and the
  answer pipeline that uses them (:func:`build_answerer`).
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Mapping

from indexes.embedder import EmbedderOptions, create_embedder, english_model_spec, with_chinese_model
from ipqa.settings import Settings
from rag.generators import GeneratorOptions, create_generator, generator_registry
from rag.judges import JudgeOptions, create_judge, judge_registry
from rag.pipeline import AnswerPipeline
from rag.protocols import Generator, Retriever, SupportJudge
from rag.question_types import QuestionTypeClassifier
from rag.rerank import RerankerOptions, reranker_registry
from rag.domain_prior import DomainPrior
from rag.retrieval import HybridRetriever, law_names_of

if TYPE_CHECKING:
    from indexes.build import BuildOptions
    from indexes.protocols import Embedder, IndexSnapshot
    from indexes.snapshot import Snapshot
    from rag.protocols import Reranker
    from rag.query import LawNames

# Backends that never import torch (a one-shot command configures torch only for the others).
_TORCH_FREE = {"reranker": {"none", "ltr"}, "generator": {"extractive", "openai"}, "judge": {"lexical"}}


# --- indexes ---------------------------------------------------------------------------------------

def embedder_options(settings: Settings, *, one_shot: bool = False) -> EmbedderOptions:
    """The embedder's options. ``one_shot`` (a command that encodes at most one query: `ipqa search`,
    `ipqa ask`): load the model only for a query in a language it serves, and then only when no
    torch-free query encoder was saved by an earlier process (``indexes.saved_query_encoder``),
    with ``settings.torch_threads`` (the API applies them at start-up; index builds keep torch's
    default, all cores); a loaded model encodes the query with torch under ``auto`` (an in-memory
    ONNX export costs ~1 s and ~300 MB to set up: it pays off in a server, not for one query)."""
    runtime = settings.embed_query_runtime
    if one_shot and runtime == "auto":
        runtime = "torch"
    return EmbedderOptions(device=settings.embed_device, batch_size=settings.embed_batch_size,
                           languages=tuple(settings.embedder_languages) if settings.embedder_languages else None,
                           query_runtime=runtime, torch_threads=settings.torch_threads if one_shot else None,
                           deferred=one_shot, document_runtime=settings.embed_runtime,
                           # torch-free query encoders saved for later commands, unless torch is asked for
                           query_encoder_cache=(query_encoder_cache(settings)
                                                if settings.embed_query_runtime != "torch" else None))


def query_encoder_cache(settings: Settings) -> Path:
    """Where torch-free query encoders are saved (``indexes.saved_query_encoder``)."""
    return settings.data_dir / "cache" / "query-encoders"


def build_embedder(settings: Settings, *, one_shot: bool = False) -> "Embedder":
    """The configured embedder (registry name or model directory; for the bundled MiniLM, the English
    model adapted from it, ``embedder_en``, when one was trained), joined by the Chinese model
    ``embedder_zh`` when it does not serve Chinese (``indexes.embedder.with_chinese_model``)."""
    spec = english_model_spec(settings.embedder, settings.embedder_en, settings.data_dir)
    base = create_embedder(spec, embedder_options(settings, one_shot=one_shot))
    return with_chinese_model(base, settings.embedder_zh, settings.data_dir)


def build_options(settings: Settings, **overrides: Any) -> "BuildOptions":
    """The options of index jobs; ``overrides`` that are None keep the configured value."""
    # imported here: indexes.build loads the ingest pipeline and its parsers (0.1-0.25 s), which
    # only the commands that build pay for
    from indexes.build import BuildOptions

    values: dict[str, Any] = dict(max_file_bytes=settings.max_file_bytes, jobs=settings.ingest_jobs,
                                  dense_kind=settings.dense_index, bm25_k1=settings.bm25_k1, bm25_b=settings.bm25_b,
                                  keep_versions=settings.keep_versions)
    values.update({key: value for key, value in overrides.items() if value is not None})
    return BuildOptions(**values)


@contextmanager
def open_index(settings: Settings, *, index_root: Path | None = None, one_shot: bool = False,
               version: str | None = None) -> Iterator["Snapshot"]:
    """The current (or ``version``) index version under ``index_root`` (default
    ``settings.index_root``) with the configured embedder, closed on exit.

    ``one_shot`` (one query, then exit): files are checked by size, not by checksum. Hashing every
    file took 0.3-0.5 s per command on the full index (the chunk store alone is 100-200 MB), a third
    of a search's budget; the checksums are still verified by ``ipqa index verify``, by every index
    job, and by the API whenever it opens a version."""
    from indexes.snapshot import open_snapshot

    snapshot = open_snapshot(index_root or settings.index_root, embedder=build_embedder(settings, one_shot=one_shot),
                             version=version, verify_checksums=not one_shot)
    try:
        yield snapshot
    finally:
        snapshot.close()


# --- retrieval -------------------------------------------------------------------------------------

def default_ltr_model_path(settings: Settings) -> Path:
    """Where ``ipqa train reranker`` writes and the ``ltr`` reranker reads by default."""
    return settings.ltr_model_path or settings.data_dir / "models" / "ltr"


def reranker_options(settings: Settings, snapshot: "IndexSnapshot | None" = None,
                     law_names: "LawNames | None" = None, *, one_shot: bool = False) -> RerankerOptions:
    return RerankerOptions(reranker_path=settings.reranker_path, ltr_model_path=default_ltr_model_path(settings),
                           device=settings.embed_device, store=snapshot.store if snapshot is not None else None,
                           law_names=law_names, dense=_dense_cosines(snapshot), terms=snapshot, one_shot=one_shot)


def _dense_cosines(snapshot: object) -> object | None:
    """The snapshot as the LTR reranker's source of every candidate's dense score, when it has one."""
    return snapshot if hasattr(snapshot, "dense_cosines") else None


def build_reranker(settings: Settings, snapshot: "IndexSnapshot",
                   law_names: "LawNames | None" = None, *, one_shot: bool = False) -> "Reranker | None":
    """``settings.reranker``: ``auto`` is a cross-encoder when ``reranker_path`` is set, else the
    LTR model when its artefact exists (``ltr_model_path``, default ``<data_dir>/models/ltr``), else
    none."""
    return reranker_registry().create(settings.reranker, reranker_options(settings, snapshot, law_names,
                                                                          one_shot=one_shot))


def default_field_model_path(settings: Settings) -> Path:
    """Where ``ipqa train fields`` writes and ``field_model = auto`` reads."""
    return settings.data_dir / "models" / "fields"


def build_domain_prior(settings: Settings) -> DomainPrior | None:
    """The domain prior: None when ``field_model`` is ``none``, or ``auto`` and no field model was
    trained (then retrieval is exactly the first stage, as before)."""
    from rag.domain_prior import DomainPriorOptions
    from rag.fields import MODEL_FILE, FieldModel

    spec = settings.field_model
    if spec == "none":
        return None
    directory = default_field_model_path(settings) if spec == "auto" else Path(spec).expanduser()
    if spec == "auto" and not (directory / MODEL_FILE).is_file():
        return None
    options = DomainPriorOptions(field_weights=settings.field_prior_weights, local_penalty=settings.local_rule_penalty,
                                 patent_text_penalty=settings.patent_text_penalty)
    return DomainPrior(FieldModel.load(directory), options)


def build_retriever(settings: Settings, snapshot: "IndexSnapshot", *, one_shot: bool = False) -> HybridRetriever:
    """The hybrid retriever over ``snapshot``, with the configured fusion, reranker (applied to
    questions of ``reranker_fields``) and domain prior. ``one_shot``: for a command that searches once
    (no model whose import costs more than that search)."""
    law_names = law_names_of(snapshot)
    reranker = build_reranker(settings, snapshot, law_names, one_shot=one_shot)
    extra = build_extra_rerankers(settings, snapshot, law_names, one_shot=one_shot)
    for served in [reranker, *(r for r, _ in extra)]:
        warn_if_trained_at_another_depth(served, settings)
    return HybridRetriever(snapshot, fusion=settings.fusion, rrf_k=settings.rrf_k, weights=settings.fusion_weights,
                           candidates=settings.candidates, list_depth_factor=settings.list_depth_factor,
                           reranker=reranker,
                           expand_references=settings.expand_references, law_names=law_names,
                           domain_prior=build_domain_prior(settings),
                           reranker_fields=reranker_fields(settings.reranker_fields, reranker),
                           more_rerankers=extra)


def warn_if_trained_at_another_depth(reranker: object, settings: Settings) -> None:
    """An LTR model's rank features mean what they meant at the first-stage depth it was trained at
    (``candidates`` and ``list_depth_factor`` in its artefact; 1 before the factor existed): served at
    another depth it still works, less well. Said once, when the retriever is built."""
    metadata = getattr(getattr(reranker, "model", None), "metadata", None)
    if not isinstance(metadata, Mapping) or "candidates" not in metadata:
        return
    trained = (metadata["candidates"], metadata.get("list_depth_factor", 1))
    serving = (settings.candidates, settings.list_depth_factor)
    if trained != serving:
        import warnings

        datasets = ", ".join(Path(str(d)).name for d in metadata.get("dataset") or []) or "its datasets"
        warnings.warn(f"the reranker trained on {datasets} learned from a first stage of candidates={trained[0]}, "
                      f"list_depth_factor={trained[1]}; it is served at {serving[0]} and {serving[1]}: run "
                      "`ipqa train reranker` again (or set IPQA_CANDIDATES / IPQA_LIST_DEPTH_FACTOR back)",
                      RuntimeWarning, stacklevel=2)


EXTRA_LTR_PREFIX = "ltr-"


def named_ltr_model_path(settings: Settings, name: str) -> Path:
    """Where ``ipqa train reranker --name NAME`` writes: a model served beside the main one."""
    return settings.data_dir / "models" / f"{EXTRA_LTR_PREFIX}{name}"


def extra_ltr_model_paths(settings: Settings) -> list[Path]:
    """The LTR artefacts served beside the main one (``ltr_extra_models``; by default every
    ``<data_dir>/models/ltr-*`` directory that holds a model), in name order."""
    from rag.rerank.ltr import MODEL_FILE

    if settings.reranker not in ("auto", "ltr"):
        return []
    if settings.ltr_extra_models is not None:
        return list(settings.ltr_extra_models)
    models = settings.data_dir / "models"
    return sorted(p for p in models.glob(f"{EXTRA_LTR_PREFIX}*") if (p / MODEL_FILE).is_file()) if models.is_dir() else []


def build_extra_rerankers(settings: Settings, snapshot: "IndexSnapshot", law_names: "LawNames | None" = None,
                          *, one_shot: bool = False) -> list[tuple["Reranker", frozenset[str] | None]]:
    """Each extra LTR model with the fields its artefact records as validated. One that records none
    (trained without a field model) serves no field when found under ``models/ltr-*``, and every
    field when ``ltr_extra_models`` names it on purpose."""
    from rag.rerank.ltr import LtrModel, LtrReranker, tree_runtime

    named = settings.ltr_extra_models is not None
    out: list[tuple["Reranker", frozenset[str] | None]] = []
    for path in extra_ltr_model_paths(settings):
        reranker = LtrReranker(LtrModel.load(path), snapshot.store, terms=snapshot, law_names=law_names,
                               dense=_dense_cosines(snapshot),  # type: ignore[arg-type]
                               tree_runtime=tree_runtime(one_shot))
        fields = reranker.validated_fields
        out.append((reranker, fields if fields is not None else (None if named else frozenset())))
    return out


# The fields a learned reranker trained on STARD alone was validated on (docs/benchmarks.md, issue 10):
# an artefact written before `ipqa train reranker` recorded its validated fields is served for these.
STARD_VALIDATED_FIELDS = frozenset({"civil", "criminal", "procedure", "administrative", "economic", "social",
                                    "constitutional", "other"})


def reranker_fields(setting: "str | list[str] | None", reranker: "Reranker | None") -> frozenset[str] | None:
    """The fields whose questions the reranker reorders (None: all): ``auto`` reads the fields its
    artefact records as validated by cross-validation."""
    if setting is None or setting == "all":
        return None
    if setting != "auto":
        return frozenset(setting)
    recorded = getattr(reranker, "validated_fields", None)
    return STARD_VALIDATED_FIELDS if recorded is None else frozenset(recorded)


# --- answering -------------------------------------------------------------------------------------

def generator_options(settings: Settings, **overrides: Any) -> GeneratorOptions:
    """The generator options ``settings`` configure, with ``overrides`` (GeneratorOptions fields)."""
    options = GeneratorOptions(llm_path=settings.llm_path, lora_path=settings.lora_path,
                               openai_base_url=settings.openai_base_url, openai_model=settings.openai_model,
                               openai_api_key=settings.openai_api_key, max_new_tokens=settings.max_new_tokens,
                               temperature=settings.temperature, device=settings.embed_device)
    return generator_registry().options(options, **overrides)


def build_generator(settings: Settings, name: str | None = None, **overrides: Any) -> Generator:
    """The generator ``name`` (default ``settings.generator``); may load a large model: create it once."""
    return create_generator(name or settings.generator, generator_options(settings, **overrides))


def judge_options(settings: Settings, *, model_path: Path | None = None) -> JudgeOptions:
    return JudgeOptions(model_path=model_path or settings.support_judge_path, device=settings.embed_device)


def build_judge(settings: Settings, name: str | None = None, *, model_path: Path | None = None) -> SupportJudge:
    """The support judge ``name`` (default ``settings.support_judge``); may load a model."""
    return create_judge(name or settings.support_judge, judge_options(settings, model_path=model_path))


def build_answerer(settings: Settings, snapshot: "IndexSnapshot", *, retriever: Retriever | None = None,
                   generator: Generator | None = None, judge: SupportJudge | None = None,
                   classifier: QuestionTypeClassifier | None = None) -> AnswerPipeline:
    """The configured answer pipeline over ``snapshot``. A service that answers over several index
    versions passes one ``generator``, ``judge`` and ``classifier`` to every call, so models are
    loaded and trained once, not per version."""
    retriever = retriever or build_retriever(settings, snapshot)
    # the hybrid retriever has already read the index's law titles: don't page through them again
    law_names = getattr(retriever, "law_names", None)
    return AnswerPipeline(
        retriever,
        generator or build_generator(settings),
        judge or build_judge(settings),
        snapshot.store,
        classifier=classifier,
        known_laws=law_names.all_titles() if law_names is not None else None,
        law_names=law_names,
        top_k=settings.top_k,
        support_threshold=settings.support_threshold,
        min_hit_score=settings.min_evidence_score,
        max_question_chars=settings.max_question_chars,
    )


def models_use_torch(settings: Settings, *, answering: bool) -> bool:
    """Whether the configured reranker (and, when ``answering``, the generator or support judge)
    runs a torch model; the embedder is not counted: it configures torch itself when it loads."""
    if reranker_registry().resolve(settings.reranker, reranker_options(settings)) not in _TORCH_FREE["reranker"]:
        return True
    return answering and (generator_registry().resolve(settings.generator) not in _TORCH_FREE["generator"]
                          or judge_registry().resolve(settings.support_judge) not in _TORCH_FREE["judge"])
