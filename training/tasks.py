"""Synthetic reasoning problems with long, checkable step-by-step solutions (Python standard library only).

Task "trace": a small program is given, a loop over a few assignments on two-digit registers (arithmetic
mod 100); the solution executes it line by line. Example prompt and the start of its solution:

    a=12            <- initial values
    b=07
    c=55
    repeat 24 {
    b:=b+a          <- loop body, run in order, 24 times
    c:=c-b
    }
    #24             <- solution: iteration marker, counting down the iterations left
    b=07+12=19      <- each statement with its operand values and result
    c=55-19=36
    #23
    ...
    #1
    ...
    answer a=12 b=.. c=..

Every line of the solution needs information from far back: the statement to run and the registers the
body never assigns (constants) sit only in the prompt, which is thousands of tokens behind by the end, and
the loop count is read once, for the first marker. (Markers that count up instead, "#1".."#24", are the
format of the first training stage; there the model never learned to stop, since that needs the count from
the prompt, see bench/TASK.md.) A register's current value is the last number on the latest line that
starts with its name: the previous iteration, the current one, or the prompt. Solutions run from a few
hundred to several thousand characters; one character is one token of the model.

Run as a script it writes the held-out test set (fixed by its seed):
    python3 training/tasks.py --seed 20251 --count 300 --out training/data/trace-test.txt
in a plain format that needs no JSON parser: per problem a line "### prompt", the prompt's lines, a line
"### solution", the solution's lines (the last one is the answer line), and a line "### end".
"""

import argparse
import random
import sys

NAMES = "abcdef"
#: Solutions plus prompt stay under this many characters, so that BOS + text + EOS fits a 4096 context.
MAX_CHARS = 4000


def trace_problem(rng, min_chars=200, max_chars=MAX_CHARS, countdown=True):
    """One problem as (prompt, solution, answer); the solution ends with the answer line and a newline.
    The iteration markers count down to #1 (or up from #1 without countdown); the problem is the same."""
    n_vars = rng.randint(3, 6)
    names = NAMES[:n_vars]
    n_statements = rng.randint(2, min(4, n_vars - 1))  # at least one register is a constant
    targets = rng.sample(names, n_statements)
    body = [(t, rng.choice(names), rng.choice("+-"), rng.choice(names)) for t in targets]
    values = {v: rng.randrange(100) for v in names}

    iteration_chars = 4 + 11 * n_statements  # "#12\n" and "b=07+12=19\n" per statement
    answer_chars = len("answer\n") + 5 * n_vars
    prompt_chars = 5 * n_vars + len("repeat 99 {\n") + 7 * n_statements + 2
    budget = rng.randint(min_chars, max_chars - prompt_chars)
    iterations = max(2, min(99, (budget - answer_chars) // iteration_chars))

    prompt = "".join(f"{v}={values[v]:02d}\n" for v in names)
    prompt += f"repeat {iterations} {{\n"
    prompt += "".join(f"{t}:={x}{op}{y}\n" for t, x, op, y in body)
    prompt += "}\n"

    lines = []
    for i in range(1, iterations + 1):
        lines.append(f"#{iterations + 1 - i if countdown else i}")
        for t, x, op, y in body:
            a, b = values[x], values[y]
            r = (a + b) % 100 if op == "+" else (a - b) % 100
            lines.append(f"{t}={a:02d}{op}{b:02d}={r:02d}")
            values[t] = r
    answer = "answer " + " ".join(f"{v}={values[v]:02d}" for v in names)
    lines.append(answer)
    return prompt, "\n".join(lines) + "\n", answer


def answer_of(solution_text):
    """The answer line a (possibly generated) solution ends with, or None if it has none."""
    for line in reversed(solution_text.splitlines()):
        if line.startswith("answer "):
            return line
    return None


def write_problems(path, problems):
    with open(path, "w", encoding="ascii", newline="\n") as f:
        for prompt, solution, _ in problems:
            f.write("### prompt\n" + prompt + "### solution\n" + solution + "### end\n")


def read_problems(path):
    """(prompt, solution, answer) triples from a file written by write_problems()."""
    problems, part, text = [], None, {}
    with open(path, encoding="ascii", newline="\n") as f:
        for line in f:
            if line in ("### prompt\n", "### solution\n", "### end\n"):
                part = line[4:-1]
                if part == "end":
                    problems.append((text["prompt"], text["solution"], answer_of(text["solution"])))
                    text = {}
                else:
                    text[part] = ""
            else:
                text[part] += line
    return problems


def test_set(seed, count, countdown=True):
    rng = random.Random(seed)
    return [trace_problem(rng, countdown=countdown) for _ in range(count)]


def main(argv):
    parser = argparse.ArgumentParser(description="writes a held-out set of trace problems")
    parser.add_argument("--seed", type=int, default=20251)
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--out", required=True)
    parser.add_argument("--marker", choices=["down", "up"], default="down", help="iteration markers (default down)")
    args = parser.parse_args(argv)
    write_problems(args.out, test_set(args.seed, args.count, countdown=args.marker == "down"))


if __name__ == "__main__":
    main(sys.argv[1:])
