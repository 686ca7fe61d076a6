"""Chat turns: store, remember, fold old turns into a summary, stream the model's answer."""

from __future__ import annotations

import asyncio
import base64
import io
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing, asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from PIL import Image, UnidentifiedImageError

from bot.config import Settings
from bot.errors import UserError
from bot.llm import LLM, Spent, Who
from bot.memory import build_conversation, message_tokens, newest_within, speaker_line
from bot.moderation import Moderator, Subject
from bot.server_settings import ServerSettings
from bot.store import ChannelState, NewTurn, Store, Turn, TurnContext
from bot.text import strip_reasoning
from bot.tokens import clip_tokens
from index.query import Source, chat_sources_prompt, cited, within_tokens
from index.where import Where

if TYPE_CHECKING:
    from bot.limits import UsageLedger

log = logging.getLogger(__name__)

TRIM_NOTE = "_Older messages in this channel are now kept as a summary so the conversation fits the model._"
NO_VISION_NOTE = "_This model doesn't read images, so I only read the text of your message._"
NO_DOCS_NOTE = "_I couldn't search the documents just now, so this answer doesn't draw on them._"
SUMMARY_PROMPT = (
    "Update the running summary of a team chat. Keep names, decisions, facts, numbers, open questions "
    "and anything someone asked to remember. Write at most {words} words, in the conversation's language. "
    "Reply with the summary only."
)
SUMMARY_TOKENS = 600  # a channel's rolling summary at most (250 words asked, with room for Japanese)
_MAX_IMAGE_SIDE = 1536
# Told, as text streams in, how to render the visible text so far: rendering (hiding <think> blocks)
# is left to whoever shows it, at most once a second, not redone for every delta of a long answer.
OnText = Callable[[Callable[[], str]], None]


@dataclass(slots=True)
class TurnIn:
    """One user message to answer, as plain values."""

    channel_id: int
    guild_id: int | None
    author_id: int
    author_name: str
    content: str
    message_id: int | None = None
    images: list[bytes] = field(default_factory=list)
    parent_id: int | None = None  # a thread's channel


@dataclass(slots=True)
class ChatReply:
    """The finished answer, the notes to show under it and the document sources it cites."""

    text: str
    notes: list[str] = field(default_factory=list)
    sources: list[Source] = field(default_factory=list)


class Retriever(Protocol):
    """Where chat finds passages from the documents (bot/documents.py's Documents, or an Answerer)."""

    async def chat_sources(self, text: str, where: Where, *, who: Who) -> list[Source]:
        """The passages in scope for a chat turn."""
        ...


class ChatService:
    """Per-channel conversations: one turn at a time per channel, channels in parallel."""

    def __init__(
        self,
        store: Store,
        llm: LLM,
        settings: Settings,
        *,
        server: ServerSettings | None = None,
        moderation: Moderator | None = None,
        retriever: Retriever | None = None,
        ledger: UsageLedger | None = None,
    ) -> None:
        self.store = store
        self.llm = llm
        self.settings = settings
        self.server = server
        self.moderation = moderation
        self.retriever = retriever  # searched when the channel's docs-in-chat switch (from `server`) is on
        self.ledger = ledger  # given: an answer and its usage are stored in one trip (Store.add_reply)
        self._locks: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)

    @property
    def history_budget(self) -> int:
        """Tokens of the context left for the prompt once the reply's share is kept aside."""
        return self.settings.context_tokens - self.settings.reply_tokens

    async def model_for(self, guild_id: int | None) -> str:
        """The chat model a server uses now (its /settings value, else CHAT_MODEL)."""
        return await self.server.chat_model(guild_id) if self.server else self.settings.chat_model

    @asynccontextmanager
    async def channel(self, channel_id: int) -> AsyncIterator[None]:
        """Hold a channel so its turns are answered in arrival order."""
        async with self._locks[channel_id]:
            yield

    async def reply(self, turn: TurnIn, on_text: OnText | None = None) -> ChatReply:
        """Store the user's turn, then stream and store the answer; `on_text` is told how to render the
        visible text so far each time more arrives."""
        subject = Subject(
            turn.guild_id, turn.channel_id, turn.author_id, turn.author_name, "chat", turn.message_id
        )
        moderated = self.moderation is not None and await self.moderation.screen_input(turn.content, subject)
        if moderated:
            on_text = None  # the answer is checked before it shows, so nothing streams part-way
        found = await self._find_sources(turn)
        async with self.channel(turn.channel_id):
            shared = turn.guild_id is not None
            content = speaker_line(turn.author_name, turn.content, shared=shared) or "(no text)"
            new = NewTurn(
                turn.channel_id, turn.guild_id, turn.author_id, turn.author_name, "user", content,
                message_tokens(content), turn.message_id,
            )
            opened = await self.store.open_turn(new, self.history_budget)
            notes: list[str] = [] if found is not None else [NO_DOCS_NOTE]
            state, recent, trimmed = await self._fold_overflow(opened, turn)
            if trimmed and not state.trim_noticed:
                notes.append(TRIM_NOTE)
                await self.store.mark_trim_noticed(turn.channel_id, turn.guild_id)
            sources = within_tokens(found or [], (self.history_budget - new.tokens) // 2)
            conversation = build_conversation(
                state, recent, budget=self.history_budget, system_extra=chat_sources_prompt(sources)
            )
            if not conversation.turns or conversation.turns[-1].role != "user":
                raise UserError(
                    "Your message is too long for the model's memory. Please shorten it.",
                    kind="context_too_long",
                )
            messages = conversation.messages
            if turn.images:
                if self.settings.vision:
                    parts = await asyncio.to_thread(image_parts, turn.images)
                    messages[-1] = {"role": "user", "content": [{"type": "text", "text": content}, *parts]}
                else:
                    notes.append(NO_VISION_NOTE)
            spent = Spent() if self.ledger is not None else None
            try:
                text = await self._stream(messages, turn, on_text, spent)
                if moderated and self.moderation is not None:
                    await self.moderation.screen_output(text, subject)
            except BaseException:
                if spent is not None:  # no answer to store it with: what the model used is kept alone
                    await self.llm.record(spent.record)
                raise
            answer = NewTurn(
                turn.channel_id, turn.guild_id, 0, "teambot", "assistant", text, message_tokens(text)
            )
            usage = spent.record if spent is not None else None
            _, usage_id, at = await self.store.add_reply(answer, usage)
            if usage is not None and usage_id is not None and self.ledger is not None:
                self.ledger.count(usage_id, usage, at)
            return ChatReply(text, notes, cited(text, sources))

    async def _find_sources(self, turn: TurnIn) -> list[Source] | None:
        """Passages for this turn when chat here draws on the documents; None if the search failed."""
        if self.retriever is None or self.server is None or not turn.content.strip():
            return []
        if not (await self.server.docs_in_chat(turn.channel_id, turn.guild_id, turn.parent_id)).enabled:
            return []
        where = Where(turn.guild_id, turn.channel_id, turn.author_id, turn.parent_id)
        if not await self.store.has_documents(where.visible_scopes()):
            return []  # nothing to search: no embedding call for channels without documents
        try:
            return await self.retriever.chat_sources(
                turn.content, where, who=Who(turn.guild_id, turn.author_id, "chat")
            )
        except Exception as exc:  # the turn is still answered, from the conversation alone
            log.warning(
                "chat in channel %s answered without documents: %s",
                turn.channel_id,
                getattr(exc, "kind", type(exc).__name__),
            )
            return None

    async def _stream(
        self, messages: list[dict], turn: TurnIn, on_text: OnText | None, spent: Spent | None
    ) -> str:
        parts: list[str] = []

        def visible() -> str:
            return strip_reasoning("".join(parts))

        who = Who(turn.guild_id, turn.author_id, "chat")
        model = await self.model_for(turn.guild_id)
        stream = self.llm.stream_chat(
            messages, who=who, model=model, max_tokens=self.settings.reply_tokens, spent=spent
        )
        async with aclosing(stream):  # closed here, not by the garbage collector: `spent` is final after
            async for delta in stream:
                parts.append(delta)
                if on_text is not None:
                    on_text(visible)
        text = visible().strip()
        if not text:
            raise UserError("The model returned an empty answer. Please try again.", kind="empty_answer")
        return text

    async def _fold_overflow(
        self, opened: TurnContext, turn: TurnIn
    ) -> tuple[ChannelState, list[Turn], bool]:
        """When unsummarized turns outgrow the budget, fold the oldest into the summary.

        Returns the channel's state, the turns after its summary that fit the budget, and whether any
        were left out of the window."""
        budget = self.history_budget
        state, recent = opened.state, opened.recent
        if opened.pending_tokens <= budget * 3 // 4:
            return state, recent, False
        # Keep about half the budget of recent turns verbatim so folding happens rarely.
        kept = newest_within(recent, budget // 2)
        if not kept:
            return state, recent, False
        upto = kept[0].id - 1
        dropped = await self.store.turns_between(state.channel_id, state.summary_upto, upto)
        if not dropped:
            return state, recent, False
        try:
            summary = await self._summarize(state.summary, dropped, turn)
        except UserError as exc:
            # The turns stay stored; the window still trims them, and the next turn retries the fold.
            log.warning("could not fold channel %s into its summary: %s", state.channel_id, exc.kind)
            return state, recent, True
        await self.store.set_summary(state.channel_id, turn.guild_id, summary, upto)
        return await self.store.channel_state(state.channel_id), kept, True

    async def _summarize(self, previous: str, turns: list[Turn], turn: TurnIn) -> str:
        # The summary rides in every later prompt: a quarter of the budget at most, or on a small model a
        # summary near the budget would leave no room for the message itself, and every turn would fail.
        size = min(SUMMARY_TOKENS, self.history_budget // 4)
        room = self.history_budget - 2 * size  # the request fits: the turns, the old summary, the new one
        lines: list[str] = []
        used = 0
        for t in reversed(turns):
            line = t.content if t.role == "user" else f"[teambot] {t.content}"
            used += t.tokens
            if used > room:
                break
            lines.append(line)
        transcript = "\n".join(reversed(lines))
        messages = [
            {"role": "system", "content": SUMMARY_PROMPT.format(words=max(30, size * 5 // 12))},
            {
                "role": "user",
                "content": f"Summary so far:\n{previous or '(none)'}\n\nNew messages:\n{transcript}",
            },
        ]
        result = await self.llm.complete(
            messages,
            who=Who(turn.guild_id, turn.author_id, "summary"),
            model=await self.model_for(turn.guild_id),
            max_tokens=size,
        )
        # Cut here too: not every OpenAI-compatible server keeps to max_tokens.
        return clip_tokens(strip_reasoning(result.text).strip(), size) or previous

    async def reset(self, channel_id: int) -> int:
        """Forget a channel's conversation; returns the number of turns removed."""
        async with self.channel(channel_id):
            return await self.store.forget_channel(channel_id)


def image_parts(images: list[bytes]) -> list[dict]:
    """Images as chat `image_url` parts (data URLs), downscaled; unreadable images are skipped."""
    parts = []
    for data in images:
        try:
            with Image.open(io.BytesIO(data)) as img:
                img.thumbnail((_MAX_IMAGE_SIDE, _MAX_IMAGE_SIDE))
                out = io.BytesIO()
                img.convert("RGB").save(out, format="JPEG", quality=85)
        except (UnidentifiedImageError, OSError, Image.DecompressionBombError):
            continue
        url = "data:image/jpeg;base64," + base64.b64encode(out.getvalue()).decode()
        parts.append({"type": "image_url", "image_url": {"url": url}})
    return parts
