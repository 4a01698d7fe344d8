// Tab completion: the shell scripts `gen-manifests completion [bash|zsh|fish]` prints, and the
// words offered for a half-typed command line. The scripts send the words up to the cursor to
// `gen-manifests --get-yargs-completions` (yargs' name for it, so scripts installed before keep
// working) and offer what it prints, one a line; when it prints nothing, the shell completes file
// names (a parameters file, an output folder).

/** An option as completion needs it; read from the yargs definitions, so that the two never disagree. */
export interface OptionSpec {
  name: string;
  aliases: string[];
  /** False for a flag (boolean). */
  takesValue: boolean;
  /** The values it accepts, when they are a list. */
  choices?: string[];
  /** May be given more than once. */
  repeatable: boolean;
}

export interface CommandSpec {
  options: OptionSpec[];
  /** Values of its positional argument, when they are a list; absent: file names. */
  positional?: string[];
  /** Whether it has a positional argument at all. */
  hasPositional: boolean;
}

export interface CompletionSpecs {
  /** By command name; the default command (render) is used before one is typed. */
  commands: Record<string, CommandSpec>;
  defaultCommand: string;
  /** Options every command has (--help, --version). */
  global: OptionSpec[];
}

export const SHELLS = ["bash", "zsh", "fish"] as const;
export type Shell = (typeof SHELLS)[number];

const flag = (name: string): string => (name.length === 1 ? `-${name}` : `--${name}`);

/**
 * What to offer for the last word of `words` (the words typed so far after the program's name;
 * the last is the one being completed, possibly empty). Empty: the shell offers file names.
 */
export function completeWords(typed: string[], specs: CompletionSpecs): string[] {
  const words = joinEquals(typed);
  const current = words.length ? words[words.length - 1] : "";
  const before = words.slice(0, -1);

  // Which command, and which options and positionals are already there.
  let command: string | undefined;
  let spec = specs.commands[specs.defaultCommand];
  const given = new Set<string>();
  let positionals = 0;
  let pendingValue: OptionSpec | undefined;
  const find = (s: CommandSpec, word: string): OptionSpec | undefined => {
    const name = word.replace(/^--?/, "").replace(/^no-/, "").split("=")[0];
    return [...s.options, ...specs.global].find((o) => o.name === name || o.aliases.includes(name));
  };
  for (const w of before) {
    if (pendingValue) {
      pendingValue = undefined;
      continue;
    }
    if (w.startsWith("-") && w !== "-") {
      const o = find(spec, w);
      if (o) {
        given.add(o.name);
        if (o.takesValue && !w.includes("=")) pendingValue = o;
      }
      continue;
    }
    if (command === undefined && positionals === 0 && specs.commands[w]) {
      command = w;
      spec = specs.commands[w];
    } else positionals++;
  }

  const prefixed = (list: string[], prefix = current): string[] => list.filter((x) => x.startsWith(prefix));
  // An option's value: its choices, or (none) the shell's file names.
  if (pendingValue) return prefixed(pendingValue.choices ?? []);
  const inline = /^(--?[A-Za-z][\w-]*)=(.*)$/.exec(current);
  if (inline) {
    const o = find(spec, inline[1]);
    return o?.choices ? prefixed(o.choices, inline[2]).map((v) => `${inline[1]}=${v}`) : [];
  }
  if (current.startsWith("-")) {
    const options = [...spec.options, ...specs.global].filter((o) => o.repeatable || !given.has(o.name));
    return prefixed(options.flatMap((o) => [flag(o.name), ...o.aliases.filter((a) => a.length > 1).map(flag)]));
  }
  // In the command's place: the commands (a prefix no command has gets the shell's file names).
  if (command === undefined && positionals === 0) return prefixed(Object.keys(specs.commands));
  if (spec.hasPositional && positionals === 0) return prefixed(spec.positional ?? []);
  return [];
}

/** bash splits `--output=json` into `--output`, `=`, `json`: put them back together. */
function joinEquals(words: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    if (w === "=" && out.length && /^--?[A-Za-z][\w-]*$/.test(out[out.length - 1])) {
      out[out.length - 1] += "=" + (i + 1 < words.length ? words[++i] : "");
    } else out.push(w);
  }
  return out;
}

/** The script for a shell, for `gen-manifests completion SHELL`, to be sourced or appended to its rc file. */
export function completionScript(shell: Shell, program = "gen-manifests"): string {
  const fn = `_${program.replace(/[^A-Za-z0-9_]/g, "_")}_completions`;
  switch (shell) {
    case "bash":
      return `###-begin-${program}-completions-###
# ${program} tab completion for bash. Installation: ${program} completion bash >> ~/.bashrc
${fn}() {
  local IFS=$'\\n'
  COMPREPLY=($(${program} --get-yargs-completions "\${COMP_WORDS[@]:0:COMP_CWORD+1}" 2>/dev/null))
  # After "--output=", bash completes the text after the "=": offer the value alone.
  if [[ \${COMP_WORDS[COMP_CWORD]} == "=" || \${COMP_WORDS[COMP_CWORD-1]} == "=" ]]; then
    COMPREPLY=("\${COMPREPLY[@]#*=}")
  fi
  return 0
}
complete -o bashdefault -o default -F ${fn} ${program}
###-end-${program}-completions-###
`;
    case "zsh":
      return `#compdef ${program}
###-begin-${program}-completions-###
# ${program} tab completion for zsh. Installation: ${program} completion zsh >> ~/.zshrc
# (after compinit), or save it as _${program} in a folder of $fpath.
${fn}() {
  local -a reply
  reply=("\${(@f)$(${program} --get-yargs-completions "\${(@)words[1,CURRENT]}" 2>/dev/null)}")
  reply=("\${(@)reply:#}")
  if (( \${#reply} )); then
    compadd -Q -- "\${reply[@]}"
  else
    _files
  fi
}
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
  ${fn} "$@"
else
  compdef ${fn} ${program}
fi
###-end-${program}-completions-###
`;
    case "fish":
      return `# ${program} tab completion for fish. Installation: ${program} completion fish > ~/.config/fish/completions/${program}.fish
function ${fn}
    set -l reply (${program} --get-yargs-completions (commandline -opc) (commandline -ct) 2>/dev/null)
    if test (count $reply) -gt 0
        printf '%s\\n' $reply
    else
        __fish_complete_path (commandline -ct)
    end
end
complete -c ${program} -f -a '(${fn})'
`;
  }
}
