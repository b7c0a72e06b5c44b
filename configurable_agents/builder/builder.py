"""One turn of the chat builder: a message and the current config in, progress and a
result out. No database and no web framework: the chat service stores what a turn
produces, the Gradio app shows it.

Two modes that share the plan (``plan.Plan``). ``llm``: a capable provider
(OpenAI-compatible or Anthropic, from the LLM_* settings) writes the plan of a new
workflow under its JSON Schema, or changes the whole config of an existing one, with a
bounded repair loop. ``offline``: the request is read into a plan by the language tables,
matched against the gallery; the embedded model rewords short texts only when a fill budget
is given (off by default: on the corpus it raised no pass rate and cost seconds per
request, see benchmarks/chat.py). Either
plan is composed and validated by the same code. Either way the config a turn
ends with is one that validates; when none could be made, the previous one is kept.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass

from configurable_agents.builder import commands
from configurable_agents.builder.compose import compose
from configurable_agents.builder.events import (
    MODE_COMMAND,
    MODE_EDIT,
    MODE_LLM,
    MODE_OFFLINE,
    MODE_TEMPLATE,
    Progress,
    TurnResult,
)
from configurable_agents.builder.explain import describe_plan, explain, step_chain
from configurable_agents.builder.fill import Filler, FillReport
from configurable_agents.builder.gallery import Gallery, Match, adopt
from configurable_agents.builder.generate import (
    GenerationFailed,
    draft_plan,
    generate,
    problems_of,
)
from configurable_agents.builder.interpret import interpret, one_step
from configurable_agents.builder.lexicon import SMALL_TALK
from configurable_agents.builder.plan import Plan
from configurable_agents.builder.refine import RefineError, refine
from configurable_agents.builder.secrets import redact
from configurable_agents.builder.text import words
from configurable_agents.config import WorkflowConfig, input_fields
from configurable_agents.llm import LLMError, Provider, get_provider
from configurable_agents.settings import LLMProvider, Settings

Turn = Generator[Progress, None, TurnResult]


@dataclass(frozen=True)
class ModeInfo:
    """A mode the builder can work in, as the UI offers it."""

    name: str
    label: str


def describe_provider(settings: Settings) -> str:
    """Which model a capable-provider turn uses, e.g. "openai model gpt-4o at http://..."."""
    where = f" at {settings.llm_base_url}" if settings.llm_base_url else ""
    return f"{settings.llm_provider.value} model {settings.llm_model or '(default)'}{where}"


class Builder:
    """Turns messages into valid workflow configs."""

    def __init__(
        self,
        settings: Settings,
        gallery: Gallery,
        *,
        fill_budget_seconds: float = 0.0,
        max_attempts: int = 3,
        local_provider: Callable[[], Provider | None] | None = None,
    ) -> None:
        self.settings = settings
        self.gallery = gallery
        self.fill_budget_seconds = fill_budget_seconds
        self.max_attempts = max_attempts
        self._local_factory = local_provider or self._make_local
        self._local: Provider | None = None
        self._local_made = False
        self._capable: Provider | None = None

    # --- providers ------------------------------------------------------------------------

    @property
    def capable(self) -> bool:
        """Whether a provider that can plan a whole config is configured."""
        return self.settings.llm_provider != LLMProvider.local

    def modes(self) -> list[ModeInfo]:
        """The modes to offer: the configured provider first when there is one."""
        offline = ModeInfo(MODE_OFFLINE, "Offline: rules, gallery and the embedded model")
        if not self.capable:
            return [offline]
        return [ModeInfo(MODE_LLM, f"LLM: {describe_provider(self.settings)}"), offline]

    def default_mode(self) -> str:
        return MODE_LLM if self.capable else MODE_OFFLINE

    def _make_local(self) -> Provider | None:
        try:
            return get_provider(
                "local",
                model=self.settings.llm_model if not self.capable else "",
                n_threads=self.settings.local_model_threads,
                timeout=self.settings.llm_timeout,
                max_repairs=0,
                local_model_path=self.settings.local_model_path,
            )
        except LLMError:
            return None

    def local_provider(self) -> Provider | None:
        """The embedded model for short texts (None when it cannot be loaded)."""
        if not self._local_made:
            self._local = self._local_factory()
            self._local_made = True
        return self._local

    def capable_provider(self) -> Provider:
        """The configured provider, with repairs left to the builder (it shows them)."""
        if self._capable is None:
            settings = self.settings
            self._capable = get_provider(
                settings.llm_provider.value,
                model=settings.llm_model,
                base_url=settings.llm_base_url,
                api_key_env=settings.llm_api_key_env,
                timeout=settings.llm_timeout,
                max_repairs=0,
            )
        return self._capable

    # --- a turn ---------------------------------------------------------------------------

    def turn(
        self, message: str, current: WorkflowConfig | None, *, mode: str | None = None
    ) -> Turn:
        """Handle one message; yields Progress, returns the TurnResult."""
        text, redacted = redact(message.strip())
        note = (
            "I removed what looked like an API key from your message: keep keys in an "
            "environment variable and give its NAME (api_key_env)."
            if redacted
            else ""
        )
        if not text:
            return TurnResult(commands.HELP, current, MODE_COMMAND)
        command = commands.parse(text)
        if command is not None:
            result = self._command(command, current)
        elif (mode or self.default_mode()) == MODE_LLM and self.capable:
            result = yield from self._llm_turn(text, current)
        else:
            result = yield from self._offline_turn(text, current)
        if note:
            result.reply = f"{note}\n\n{result.reply}"
        return result

    def _command(self, command: commands.Command, current: WorkflowConfig | None) -> TurnResult:
        if command.name == "help":
            return TurnResult(commands.HELP, current, MODE_COMMAND)
        if command.name == "templates":
            return TurnResult(self.gallery_text(), current, MODE_COMMAND)
        if command.name == "template":
            template = self.gallery.find(command.argument)
            if template is None:
                return TurnResult(
                    f"There is no template called '{command.argument}'.\n\n{self.gallery_text()}",
                    current,
                    MODE_COMMAND,
                    ok=False,
                )
            config, _ = problems_of(adopt(template))
            return TurnResult(
                f"Mode: template. Started from the gallery template **{template.name}**: "
                f"{template.description}\n\nTell me what to change, or Save it as your own.",
                config or current,
                MODE_TEMPLATE,
                changed=config is not None,
                details={"template": template.name},
            )
        if command.name == "keep":
            return TurnResult("Kept the workflow as it is.", current, MODE_COMMAND)
        if command.name in ("save", "run", "undo", "new"):
            needs_config = command.name in ("save", "run")
            if needs_config and current is None:
                return TurnResult(
                    "There is no workflow yet: describe one first.", current, MODE_COMMAND, ok=False
                )
            return TurnResult("", current, MODE_COMMAND, action=command.name)
        return TurnResult(commands.HELP, current, MODE_COMMAND)  # pragma: no cover

    def gallery_text(self) -> str:
        """The templates as a numbered list to start from."""
        lines = ["Templates you can start from (say *start from <name>*):", ""]
        for number, template in enumerate(self.gallery.templates, start=1):
            lines.append(f"{number}. **{template.name}**: {template.description}")
        return "\n".join(lines)

    # --- with a capable provider ----------------------------------------------------------

    def _llm_turn(self, text: str, current: WorkflowConfig | None) -> Turn:
        where = describe_provider(self.settings)
        try:
            provider = self.capable_provider()
            if current is None:
                # A new workflow: the model writes the plan, the same one the rules write.
                generated = yield from draft_plan(provider, text, max_attempts=self.max_attempts)
            else:
                generated = yield from generate(
                    provider, text, current, max_attempts=self.max_attempts
                )
        except LLMError as error:
            return TurnResult(
                f"Mode: LLM ({where}). The model could not be asked: {error}\n\n"
                "Nothing you typed is lost: your message is back in the box. Fix the setting "
                "and send it again, or switch the mode to Offline.",
                current,
                MODE_LLM,
                ok=False,
                restore_input=True,
                details={"error": str(error), "error_type": type(error).__name__},
            )
        except GenerationFailed as failure:
            shown = "\n".join(f"- {problem}" for problem in failure.problems[:8])
            kept = (
                "I kept the previous config." if current is not None else "There is no config yet."
            )
            return TurnResult(
                f"Mode: LLM ({where}). The model could not produce a valid config after "
                f"{failure.attempts} attempts. {kept}\n\nThe last answer still had these "
                f"problems:\n{shown}\n\nTry saying it differently, or switch the mode to Offline.",
                current,
                MODE_LLM,
                ok=False,
                restore_input=True,
                details={"problems": failure.problems, "attempts": failure.attempts},
            )
        attempts = (
            "valid on the first attempt"
            if generated.attempts == 1
            else f"valid after {generated.attempts} attempts (fixed "
            + ", then ".join(f"{count} errors" for count in generated.fixed)
            + ")"
        )
        verb = "Changed" if current is not None else "Built"
        shown = (
            "The plan:\n\n" + describe_plan(generated.plan)
            if generated.plan is not None
            else _overview(generated.config)
        )
        reply = (
            f"Mode: LLM. {verb} by {where}, {attempts}.\n\n"
            + shown
            + "\n\nSave it to store it, or tell me what to change."
        )
        return TurnResult(
            reply,
            generated.config,
            MODE_LLM,
            changed=True,
            details={"attempts": generated.attempts, "fixed": generated.fixed},
        )

    # --- offline ------------------------------------------------------------------------------

    def _offline_turn(self, text: str, current: WorkflowConfig | None) -> Turn:
        if current is not None:
            yield Progress("planning", "reading the change")
            try:
                refinement = refine(current, text)
            except RefineError as error:
                return TurnResult(
                    f"Mode: offline edit. I could not make that change: {error}. The config is unchanged.",
                    current,
                    MODE_EDIT,
                    ok=False,
                    restore_input=True,
                )
            if refinement is not None:
                yield Progress("checking", "checking the changed config")
                config, problems = problems_of(refinement.data)
                if config is None:
                    shown = "; ".join(problems[:5])
                    return TurnResult(
                        f"Mode: offline edit. That change would make the config invalid ({shown}), "
                        "so I kept the previous one.",
                        current,
                        MODE_EDIT,
                        ok=False,
                        restore_input=True,
                        details={"problems": problems},
                    )
                shown_plan = describe_plan(refinement.plan) if refinement.plan else ""
                return TurnResult(
                    f"Mode: offline edit (rules, no model). {refinement.summary}\n\n"
                    f"{shown_plan}\n\n{_overview(config)}",
                    config,
                    MODE_EDIT,
                    changed=True,
                )
        if set(words(text)) <= SMALL_TALK:
            return TurnResult(
                "I could not find steps in that. " + commands.HELP,
                current,
                MODE_OFFLINE,
                ok=False,
                restore_input=True,
            )
        yield Progress("planning", "reading the request into steps")
        plan = interpret(text)
        yield Progress(
            "planning",
            f"planned {len(plan.steps())} steps: " + " \u2192 ".join(s.id for s in plan.steps()),
        )
        yield Progress("matching", "comparing with the gallery templates")
        matches = self.gallery.match(plan)
        best = matches[0] if matches else None
        if best is not None and best.adoptable:
            config, _ = problems_of(adopt(best.template, plan))
            if config is not None:
                return self._result(
                    plan, config, MODE_TEMPLATE, current, best, None, first_try=True
                )
        data = compose(plan)
        report = FillReport()
        if self.fill_budget_seconds > 0:
            yield Progress("filling", "loading the embedded model for short texts")
            filler = Filler(self.local_provider(), self.fill_budget_seconds)
            report = yield from filler.fill(plan, data)
        yield Progress("checking", "checking the config")
        config, problems = problems_of(data)
        first_try = config is not None
        if config is None and report.kept:
            # A model text broke something: the plain texts are known to fit.
            yield Progress("fixing", f"fixing {len(problems)} errors: back to the plain texts")
            config, problems = problems_of(compose(plan))
        if config is None:
            # Never empty-handed: one step that does what was asked, as written.
            yield Progress("fixing", "falling back to one step that does what was asked")
            config, problems = problems_of(compose(one_step(text)))
        if config is None:  # pragma: no cover - a one-step plan always validates
            shown = "\n".join(f"- {problem}" for problem in problems[:8])
            return TurnResult(
                f"Mode: offline. I could not build a valid config from that.\n\n{shown}",
                current,
                MODE_OFFLINE,
                ok=False,
                restore_input=True,
                details={"problems": problems},
            )
        return self._result(plan, config, MODE_OFFLINE, current, best, report, first_try=first_try)

    def _result(
        self,
        plan: Plan,
        config: WorkflowConfig,
        mode: str,
        current: WorkflowConfig | None,
        best: Match | None,
        report: FillReport | None,
        *,
        first_try: bool,
    ) -> TurnResult:
        if mode == MODE_TEMPLATE and best is not None:
            head = (
                f"Mode: offline, from the gallery. Your request matches the template "
                f"**{best.template.name}**, so I started from it"
            )
            head += f" with the loop bounded at {plan.loop.max_iterations}." if plan.loop else "."
            shown = explain(config)
        else:
            used = report.summary if report else "no model was used"
            head = (
                "Mode: offline. Built by rules from your words (no capable LLM is configured, "
                f"or you chose offline); {used}."
            )
            shown = "The plan:\n\n" + describe_plan(plan)
        lines = [head, "", shown]
        said = [*plan.understood, *plan.guessed] if mode != MODE_TEMPLATE else []
        if said:
            lines += ["", "What I understood and guessed: " + "; ".join(said) + "."]
        if mode != MODE_TEMPLATE and best is not None and best.score >= 0.5:
            lines += [
                "",
                f"Closest gallery template: **{best.template.name}** ({best.template.description}) "
                f"Say *start from {best.template.name}* to use it instead.",
            ]
        if current is not None:
            lines += ["", "I read this as a new workflow; say *undo* to get the previous one back."]
        choices: list[tuple[str, str]] = []
        if plan.question is not None and mode != MODE_TEMPLATE:
            lines += ["", f"**{plan.question.text}** (I guessed for now; pick one to change it.)"]
            choices = [(choice.label, choice.edit) for choice in plan.question.choices]
        else:
            lines += [
                "",
                "Save it to store it, or tell me what to change (e.g. *add a step that ...*).",
            ]
        details: dict[str, object] = {"first_try": first_try, "features": plan.features()}
        if report is not None:
            details |= {
                "fill_asked": report.asked,
                "fill_kept": report.kept,
                "fill_seconds": report.seconds,
                "fill_dropped": report.dropped,
            }
        if mode == MODE_TEMPLATE and best is not None:
            details["template"] = best.template.name
        return TurnResult(
            "\n".join(lines), config, mode, changed=True, details=details, choices=choices
        )


def _overview(config: WorkflowConfig) -> str:
    inputs = ", ".join(f"`{field.name}` ({field.type})" for field in input_fields(config)) or "none"
    return f"**{config.name}**: {step_chain(config)}. Inputs: {inputs}."
