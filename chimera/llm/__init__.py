"""The model layer: backend choice, scripted fakes, retries, the truth guard, usage and cassettes.

Commanders call ``get_chat_model()`` (None means "offline narrative"), then ``guarded_narrative``
so every figure a model writes is checked against the tool outputs it was given.
"""

from chimera.llm.cassette import CassetteChatModel, CassetteMiss
from chimera.llm.fake import CountingFakeModel, ScriptedChatModel, fake_model_from_name
from chimera.llm.guard import check_numbers, guarded_narrative
from chimera.llm.models import BackendInfo, Budget, GuardResult, ModelsConfig, Narrative, load_models_config
from chimera.llm.provider import backend_info, get_chat_model, resolve_backend
from chimera.llm.retry import Backoff, ModelUnavailable, ainvoke_with_retries, invoke_with_retries
from chimera.llm.usage import UsageTracker

__all__ = [
    "BackendInfo",
    "Backoff",
    "Budget",
    "CassetteChatModel",
    "CassetteMiss",
    "CountingFakeModel",
    "GuardResult",
    "ModelUnavailable",
    "ModelsConfig",
    "Narrative",
    "ScriptedChatModel",
    "UsageTracker",
    "ainvoke_with_retries",
    "backend_info",
    "check_numbers",
    "fake_model_from_name",
    "get_chat_model",
    "guarded_narrative",
    "invoke_with_retries",
    "load_models_config",
    "resolve_backend",
]
