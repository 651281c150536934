//! The families of the built-in suite. Each generator draws its parameters (a constant, a letter,
//! ...) and its test inputs from the family's random stream and computes the expected outputs in
//! Rust, exactly as the Python reference prints them. References are 1-8 lines of plain Python 3.

use rand::Rng;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha8Rng;

use super::{Family, Generated, TESTS_PER_PROBLEM};
use crate::problem::StdinTest;

type R = ChaCha8Rng;

/// The tests plus one more case for the statement's example. Inputs are distinct where the input
/// space allows; after a few tries a repeat is accepted, since some families (parity, sign) have
/// few small inputs.
fn cases(rng: &mut R, mut case: impl FnMut(&mut R) -> (String, String)) -> Vec<StdinTest> {
    let mut out: Vec<StdinTest> = Vec::new();
    let mut tries = 0;
    while out.len() < TESTS_PER_PROBLEM + 1 {
        let (input, output) = case(rng);
        tries += 1;
        if tries <= 60 && out.iter().any(|t| t.input == input) {
            continue;
        }
        out.push(StdinTest { input, output });
    }
    out
}

fn gen_(
    statement: impl Into<String>,
    reference: impl Into<String>,
    tests: Vec<StdinTest>,
) -> Generated {
    Generated {
        statement: statement.into(),
        reference: reference.into(),
        tests,
    }
}

fn ints(rng: &mut R, n: usize, lo: i64, hi: i64) -> Vec<i64> {
    (0..n).map(|_| rng.random_range(lo..=hi)).collect()
}

fn joined<T: ToString>(v: &[T]) -> String {
    v.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

fn word(rng: &mut R, min: usize, max: usize) -> String {
    let n = rng.random_range(min..=max);
    (0..n)
        .map(|_| rng.random_range(b'a'..=b'z') as char)
        .collect()
}

fn word_from(rng: &mut R, alphabet: &[u8], min: usize, max: usize) -> String {
    let n = rng.random_range(min..=max);
    (0..n)
        .map(|_| *alphabet.choose(rng).unwrap_or(&b'a') as char)
        .collect()
}

fn words(rng: &mut R, min: usize, max: usize) -> Vec<String> {
    let n = rng.random_range(min..=max);
    (0..n).map(|_| word(rng, 1, 6)).collect()
}

fn pick<'a>(rng: &mut R, options: &[&'a str]) -> &'a str {
    options.choose(rng).copied().unwrap_or("")
}

/// `n` then the list, one line each: the common input layout of the list families.
fn list_input(a: &[i64]) -> String {
    format!("{}\n{}\n", a.len(), joined(a))
}

fn yes_no(b: bool) -> &'static str {
    if b { "YES" } else { "NO" }
}

const LIST_READ: &str = "n = int(input())\na = list(map(int, input().split()))\n";
/// The common first sentence of the list families, in a few wordings (see `two_names`).
fn list_intro(rng: &mut R) -> &'static str {
    pick(
        rng,
        &[
            "The first line has an integer n. The second line has n integers.",
            "The input is a count n on the first line and n integers on the second line.",
            "Read n from the first line, then n integers separated by spaces from the second line.",
        ],
    )
}

fn two_ints(rng: &mut R, lo: i64, hi: i64) -> (i64, i64, String) {
    let (a, b) = (rng.random_range(lo..=hi), rng.random_range(lo..=hi));
    (a, b, format!("{a} {b}\n"))
}

/// Names of the integers a statement reads, drawn per problem so that problems of one family differ
/// in wording (and a split cannot put the same prompt on both sides) and a model must read the
/// statement.
fn two_names(rng: &mut R) -> (&'static str, &'static str) {
    *[("a", "b"), ("x", "y"), ("m", "n"), ("p", "q"), ("u", "v")]
        .choose(rng)
        .unwrap_or(&("a", "b"))
}

fn one_name(rng: &mut R) -> &'static str {
    pick(rng, &["n", "x", "k", "m"])
}

fn two_int_intro(rng: &mut R, x: &str, y: &str) -> String {
    if rng.random_bool(0.5) {
        format!("Read two integers {x} and {y} from one line.")
    } else {
        format!("The input is one line with two integers {x} and {y}.")
    }
}

/// Two integers in, one integer out: `task` words the result, `expr` computes it in Python, `f` in
/// Rust.
fn two_int_family(
    rng: &mut R,
    range: i64,
    task: fn(&str, &str) -> String,
    expr: fn(&str, &str) -> String,
    f: fn(i64, i64) -> i64,
) -> Generated {
    let (x, y) = two_names(rng);
    let intro = two_int_intro(rng, x, y);
    let t = cases(rng, |r| {
        let (a, b, i) = two_ints(r, -range, range);
        (i, format!("{}\n", f(a, b)))
    });
    gen_(
        format!("{intro} {}", task(x, y)),
        format!(
            "{x}, {y} = map(int, input().split())\nprint({})\n",
            expr(x, y)
        ),
        t,
    )
}

// ---- difficulty 1: one line of arithmetic or string handling ----

fn sum_two(rng: &mut R) -> Generated {
    two_int_family(
        rng,
        1000,
        |x, y| format!("Print {x} + {y}."),
        |x, y| format!("{x} + {y}"),
        |a, b| a + b,
    )
}

fn difference_two(rng: &mut R) -> Generated {
    two_int_family(
        rng,
        1000,
        |x, y| format!("Print {x} - {y}."),
        |x, y| format!("{x} - {y}"),
        |a, b| a - b,
    )
}

fn product_two(rng: &mut R) -> Generated {
    two_int_family(
        rng,
        100,
        |x, y| format!("Print {x} * {y}."),
        |x, y| format!("{x} * {y}"),
        |a, b| a * b,
    )
}

fn add_constant(rng: &mut R) -> Generated {
    let k = rng.random_range(1..=20i64);
    let t = cases(rng, |r| {
        let n = r.random_range(-100..=100i64);
        (format!("{n}\n"), format!("{}\n", n + k))
    });
    gen_(
        format!("Read an integer n. Print n + {k}."),
        format!("print(int(input()) + {k})\n"),
        t,
    )
}

fn multiply_constant(rng: &mut R) -> Generated {
    let k = rng.random_range(2..=9i64);
    let t = cases(rng, |r| {
        let n = r.random_range(-100..=100i64);
        (format!("{n}\n"), format!("{}\n", n * k))
    });
    gen_(
        format!("Read an integer n. Print n * {k}."),
        format!("print(int(input()) * {k})\n"),
        t,
    )
}

fn square(rng: &mut R) -> Generated {
    let n = one_name(rng);
    let t = cases(rng, |r| {
        let v = r.random_range(-100..=100i64);
        (format!("{v}\n"), format!("{}\n", v * v))
    });
    gen_(
        format!("Read an integer {n}. Print {n} * {n}."),
        format!("{n} = int(input())\nprint({n} * {n})\n"),
        t,
    )
}

fn upper_case(rng: &mut R) -> Generated {
    let t = cases(rng, |r| {
        let s = words(r, 1, 4).join(" ");
        (format!("{s}\n"), format!("{}\n", s.to_ascii_uppercase()))
    });
    gen_(
        "Read a line of lowercase words. Print it in upper case.",
        "print(input().upper())\n",
        t,
    )
}

/// "a word" or "a string of lowercase letters": the same input, worded two ways.
fn word_noun(rng: &mut R) -> &'static str {
    pick(
        rng,
        &[
            "a word",
            "a string of lowercase letters",
            "one lowercase word",
        ],
    )
}

fn reverse_string(rng: &mut R) -> Generated {
    let noun = word_noun(rng);
    let t = cases(rng, |r| {
        let s = word(r, 1, 10);
        (
            format!("{s}\n"),
            format!("{}\n", s.chars().rev().collect::<String>()),
        )
    });
    gen_(
        format!("Read {noun}. Print it reversed."),
        "print(input()[::-1])\n",
        t,
    )
}

fn string_length(rng: &mut R) -> Generated {
    let noun = word_noun(rng);
    let t = cases(rng, |r| {
        let s = word(r, 1, 15);
        (format!("{s}\n"), format!("{}\n", s.len()))
    });
    gen_(
        format!("Read {noun}. Print its length."),
        "print(len(input()))\n",
        t,
    )
}

fn max_of_two(rng: &mut R) -> Generated {
    two_int_family(
        rng,
        1000,
        |_, _| "Print the larger one.".to_string(),
        |x, y| format!("max({x}, {y})"),
        i64::max,
    )
}

fn repeat_word(rng: &mut R) -> Generated {
    let k = rng.random_range(2..=5usize);
    let t = cases(rng, |r| {
        let w = word(r, 1, 6);
        (
            format!("{w}\n"),
            format!("{}\n", vec![w.as_str(); k].join(" ")),
        )
    });
    gen_(
        format!("Read a word. Print it {k} times on one line, separated by spaces."),
        format!("w = input()\nprint(' '.join([w] * {k}))\n"),
        t,
    )
}

fn greeting(rng: &mut R) -> Generated {
    let hello = pick(rng, &["Hello", "Hi", "Welcome", "Goodbye"]);
    let t = cases(rng, |r| {
        let mut name = word(r, 2, 8);
        name[..1].make_ascii_uppercase();
        (format!("{name}\n"), format!("{hello}, {name}!\n"))
    });
    gen_(
        format!(
            "Read a name. Print {hello}, then a comma, a space, the name and an exclamation mark."
        ),
        format!("print('{hello}, ' + input() + '!')\n"),
        t,
    )
}

// ---- difficulty 2: one builtin over a list or a line, a conditional ----

fn list_family(rng: &mut R, task: &str, body: &str, f: fn(&[i64]) -> String) -> Generated {
    let intro = list_intro(rng);
    let t = cases(rng, |r| {
        let n = r.random_range(1..=8usize);
        let a = ints(r, n, -50, 50);
        (list_input(&a), format!("{}\n", f(&a)))
    });
    gen_(format!("{intro} {task}"), format!("{LIST_READ}{body}"), t)
}

fn sum_list(rng: &mut R) -> Generated {
    list_family(rng, "Print their sum.", "print(sum(a))\n", |a| {
        a.iter().sum::<i64>().to_string()
    })
}

fn max_list(rng: &mut R) -> Generated {
    list_family(rng, "Print the largest of them.", "print(max(a))\n", |a| {
        a.iter().max().copied().unwrap_or(0).to_string()
    })
}

fn min_list(rng: &mut R) -> Generated {
    list_family(rng, "Print the smallest of them.", "print(min(a))\n", |a| {
        a.iter().min().copied().unwrap_or(0).to_string()
    })
}

fn count_even(rng: &mut R) -> Generated {
    list_family(
        rng,
        "Print how many of them are even.",
        "print(sum(1 for x in a if x % 2 == 0))\n",
        |a| a.iter().filter(|x| *x % 2 == 0).count().to_string(),
    )
}

fn sort_ascending(rng: &mut R) -> Generated {
    list_family(
        rng,
        "Print them in increasing order, separated by spaces.",
        "print(*sorted(a))\n",
        |a| {
            let mut v = a.to_vec();
            v.sort();
            joined(&v)
        },
    )
}

fn sort_descending(rng: &mut R) -> Generated {
    list_family(
        rng,
        "Print them in decreasing order, separated by spaces.",
        "print(*sorted(a, reverse=True))\n",
        |a| {
            let mut v = a.to_vec();
            v.sort_by(|x, y| y.cmp(x));
            joined(&v)
        },
    )
}

fn average_floor(rng: &mut R) -> Generated {
    list_family(
        rng,
        "Print their sum divided by n, rounded down.",
        "print(sum(a) // n)\n",
        |a| a.iter().sum::<i64>().div_euclid(a.len() as i64).to_string(),
    )
}

fn count_char(rng: &mut R) -> Generated {
    let c = rng.random_range(b'a'..=b'e') as char;
    let t = cases(rng, |r| {
        let s = word_from(r, b"abcde ", 1, 20).trim().to_string();
        let s = if s.is_empty() { "a".to_string() } else { s };
        (format!("{s}\n"), format!("{}\n", s.matches(c).count()))
    });
    gen_(
        format!("Read a line of text. Print how many times the letter {c} appears in it."),
        format!("print(input().count('{c}'))\n"),
        t,
    )
}

fn count_vowels(rng: &mut R) -> Generated {
    let noun = word_noun(rng);
    let t = cases(rng, |r| {
        let s = word(r, 1, 15);
        (
            format!("{s}\n"),
            format!("{}\n", s.chars().filter(|c| "aeiou".contains(*c)).count()),
        )
    });
    gen_(
        format!("Read {noun}. Print how many of its letters are vowels (a, e, i, o, u)."),
        "print(sum(c in 'aeiou' for c in input()))\n",
        t,
    )
}

fn count_words(rng: &mut R) -> Generated {
    let t = cases(rng, |r| {
        let w = words(r, 1, 8);
        (format!("{}\n", w.join(" ")), format!("{}\n", w.len()))
    });
    gen_(
        "Read a line of words separated by spaces. Print the number of words.",
        "print(len(input().split()))\n",
        t,
    )
}

fn parity(rng: &mut R) -> Generated {
    let n = one_name(rng);
    let t = cases(rng, |r| {
        let v = r.random_range(-100..=100i64);
        (
            format!("{v}\n"),
            format!("{}\n", if v % 2 == 0 { "even" } else { "odd" }),
        )
    });
    gen_(
        format!("Read an integer {n}. Print even if {n} is even, otherwise print odd."),
        format!("{n} = int(input())\nprint('even' if {n} % 2 == 0 else 'odd')\n"),
        t,
    )
}

fn sign(rng: &mut R) -> Generated {
    let n = one_name(rng);
    let t = cases(rng, |r| {
        let v = if r.random_bool(0.2) {
            0
        } else {
            r.random_range(-100..=100i64)
        };
        let s = match v.signum() {
            1 => "positive",
            -1 => "negative",
            _ => "zero",
        };
        (format!("{v}\n"), format!("{s}\n"))
    });
    gen_(
        format!(
            "Read an integer {n}. Print positive if {n} > 0, negative if {n} < 0, and zero \
             otherwise."
        ),
        format!(
            "{n} = int(input())\nprint('positive' if {n} > 0 else 'negative' if {n} < 0 else \
             'zero')\n"
        ),
        t,
    )
}

fn div_mod(rng: &mut R) -> Generated {
    let (x, y) = two_names(rng);
    let t = cases(rng, |r| {
        let (a, b) = (r.random_range(0..=1000i64), r.random_range(1..=20i64));
        (format!("{a} {b}\n"), format!("{} {}\n", a / b, a % b))
    });
    gen_(
        format!(
            "Read two integers {x} >= 0 and {y} > 0 from one line. Print {x} // {y} and {x} % {y} \
             separated by a space."
        ),
        format!("{x}, {y} = map(int, input().split())\nprint({x} // {y}, {x} % {y})\n"),
        t,
    )
}

fn abs_difference(rng: &mut R) -> Generated {
    two_int_family(
        rng,
        1000,
        |x, y| format!("Print the absolute value of {x} - {y}."),
        |x, y| format!("abs({x} - {y})"),
        |a, b| (a - b).abs(),
    )
}

// ---- difficulty 3: a loop, a small algorithm, a parameter in the statement ----

fn factorial(rng: &mut R) -> Generated {
    let n = one_name(rng);
    let t = cases(rng, |r| {
        let v = r.random_range(0..=20u32);
        (
            format!("{v}\n"),
            format!("{}\n", (1..=v as u128).product::<u128>()),
        )
    });
    gen_(
        format!(
            "Read an integer {n} (0 <= {n} <= 20). Print {n}! (the product 1 * 2 * ... * {n}; 0! \
             is 1)."
        ),
        format!("{n} = int(input())\nr = 1\nfor i in range(2, {n} + 1):\n    r *= i\nprint(r)\n"),
        t,
    )
}

fn fibonacci(rng: &mut R) -> Generated {
    let n = one_name(rng);
    let t = cases(rng, |r| {
        let v = r.random_range(0..=60usize);
        let (mut a, mut b) = (0u128, 1u128);
        for _ in 0..v {
            (a, b) = (b, a + b);
        }
        (format!("{v}\n"), format!("{a}\n"))
    });
    gen_(
        format!(
            "F(0) = 0, F(1) = 1 and F(i) = F(i - 1) + F(i - 2). Read {n} (0 <= {n} <= 60). Print \
             F({n})."
        ),
        format!(
            "{n} = int(input())\na, b = 0, 1\nfor _ in range({n}):\n    a, b = b, a + b\nprint(a)\n"
        ),
        t,
    )
}

fn is_prime(rng: &mut R) -> Generated {
    let n = one_name(rng);
    let t = cases(rng, |r| {
        let v = r.random_range(1..=200u64);
        let prime = v > 1 && (2..v).take_while(|d| d * d <= v).all(|d| v % d != 0);
        (format!("{v}\n"), format!("{}\n", yes_no(prime)))
    });
    gen_(
        format!(
            "Read an integer {n} (1 <= {n} <= 200). Print YES if {n} is a prime number, otherwise \
             NO."
        ),
        format!(
            "{n} = int(input())\nok = {n} > 1 and all({n} % d for d in range(2, int({n} ** 0.5) + \
             1))\nprint('YES' if ok else 'NO')\n"
        ),
        t,
    )
}

fn gcd(rng: &mut R) -> Generated {
    let (x, y) = two_names(rng);
    let t = cases(rng, |r| {
        let k = r.random_range(1..=12u64);
        let (a, b) = (k * r.random_range(1..=30u64), k * r.random_range(1..=30u64));
        (format!("{a} {b}\n"), format!("{}\n", euclid(a, b)))
    });
    gen_(
        format!(
            "Read two positive integers {x} and {y} from one line. Print their greatest common \
             divisor."
        ),
        format!("import math\n{x}, {y} = map(int, input().split())\nprint(math.gcd({x}, {y}))\n"),
        t,
    )
}

fn euclid(mut x: u64, mut y: u64) -> u64 {
    while y != 0 {
        (x, y) = (y, x % y);
    }
    x
}

fn lcm(rng: &mut R) -> Generated {
    let (x, y) = two_names(rng);
    let t = cases(rng, |r| {
        let (a, b) = (r.random_range(1..=40u64), r.random_range(1..=40u64));
        (format!("{a} {b}\n"), format!("{}\n", a / euclid(a, b) * b))
    });
    gen_(
        format!(
            "Read two positive integers {x} and {y} from one line. Print their least common \
             multiple."
        ),
        format!(
            "import math\n{x}, {y} = map(int, input().split())\nprint({x} * {y} // math.gcd({x}, \
             {y}))\n"
        ),
        t,
    )
}

fn digit_sum(rng: &mut R) -> Generated {
    let t = cases(rng, |r| {
        let n = r.random_range(0..=1_000_000u64);
        (
            format!("{n}\n"),
            format!(
                "{}\n",
                n.to_string()
                    .bytes()
                    .map(|b| u64::from(b - b'0'))
                    .sum::<u64>()
            ),
        )
    });
    gen_(
        "Read a non-negative integer. Print the sum of its digits.",
        "print(sum(int(c) for c in input()))\n",
        t,
    )
}

fn palindrome(rng: &mut R) -> Generated {
    let noun = word_noun(rng);
    let t = cases(rng, |r| {
        let half = word_from(r, b"abc", 1, 4);
        let s = if r.random_bool(0.5) {
            let back: String = half.chars().rev().collect();
            if r.random_bool(0.5) {
                format!("{half}{back}")
            } else {
                format!("{half}x{back}")
            }
        } else {
            word_from(r, b"abc", 2, 7)
        };
        let rev: String = s.chars().rev().collect();
        (format!("{s}\n"), format!("{}\n", yes_no(s == rev)))
    });
    gen_(
        format!("Read {noun}. Print YES if it reads the same backwards, otherwise NO."),
        "s = input()\nprint('YES' if s == s[::-1] else 'NO')\n",
        t,
    )
}

fn count_distinct(rng: &mut R) -> Generated {
    let intro = list_intro(rng);
    let t = cases(rng, |r| {
        let n = r.random_range(1..=10usize);
        let a = ints(r, n, 1, 6);
        let mut d = a.clone();
        d.sort();
        d.dedup();
        (list_input(&a), format!("{}\n", d.len()))
    });
    gen_(
        format!("{intro} Print how many different values there are."),
        format!("{LIST_READ}print(len(set(a)))\n"),
        t,
    )
}

fn prefix_sums(rng: &mut R) -> Generated {
    list_family(
        rng,
        "Print the running totals: the sum of the first 1, 2, ..., n integers, separated by \
         spaces.",
        "s = 0\nout = []\nfor x in a:\n    s += x\n    out.append(s)\nprint(*out)\n",
        |a| {
            let v: Vec<i64> = a
                .iter()
                .scan(0, |s, x| {
                    *s += x;
                    Some(*s)
                })
                .collect();
            joined(&v)
        },
    )
}

fn reverse_words(rng: &mut R) -> Generated {
    let t = cases(rng, |r| {
        let w = words(r, 1, 6);
        let rev: Vec<&str> = w.iter().rev().map(String::as_str).collect();
        (format!("{}\n", w.join(" ")), format!("{}\n", rev.join(" ")))
    });
    gen_(
        "Read a line of words separated by spaces. Print the words in reverse order.",
        "print(' '.join(input().split()[::-1]))\n",
        t,
    )
}

fn range_sum(rng: &mut R) -> Generated {
    let (x, y) = two_names(rng);
    let t = cases(rng, |r| {
        let a = r.random_range(-50..=50i64);
        let b = a + r.random_range(0..=100i64);
        (format!("{a} {b}\n"), format!("{}\n", (a..=b).sum::<i64>()))
    });
    gen_(
        format!(
            "Read two integers {x} <= {y} from one line. Print the sum of all integers from {x} to \
             {y} inclusive."
        ),
        format!("{x}, {y} = map(int, input().split())\nprint(sum(range({x}, {y} + 1)))\n"),
        t,
    )
}

fn multiplication_table(rng: &mut R) -> Generated {
    let k = rng.random_range(3..=10i64);
    let t = cases(rng, |r| {
        let n = r.random_range(1..=20i64);
        let out: String = (1..=k).map(|i| format!("{}\n", n * i)).collect();
        (format!("{n}\n"), out)
    });
    gen_(
        format!("Read an integer n. Print n * 1, n * 2, ..., n * {k}, one per line."),
        format!(
            "n = int(input())\nfor i in range(1, {} + 1):\n    print(n * i)\n",
            k
        ),
        t,
    )
}

fn second_largest(rng: &mut R) -> Generated {
    let intro = list_intro(rng);
    let t = cases(rng, |r| {
        let n = r.random_range(2..=8usize);
        let mut a = ints(r, n, 0, 20);
        if a.iter().all(|x| *x == a[0]) {
            a[0] += 1;
        }
        let mut d = a.clone();
        d.sort();
        d.dedup();
        (list_input(&a), format!("{}\n", d[d.len() - 2]))
    });
    gen_(
        format!("{intro} At least two values differ. Print the second largest different value."),
        format!("{LIST_READ}print(sorted(set(a))[-2])\n"),
        t,
    )
}

fn binary(rng: &mut R) -> Generated {
    let t = cases(rng, |r| {
        let n = r.random_range(0..=1000u32);
        (format!("{n}\n"), format!("{n:b}\n"))
    });
    gen_(
        "Read a non-negative integer n. Print n in binary, without leading zeros.",
        "print(bin(int(input()))[2:])\n",
        t,
    )
}

fn calculator(rng: &mut R) -> Generated {
    let t = cases(rng, |r| {
        let (a, b) = (r.random_range(-50..=50i64), r.random_range(-50..=50i64));
        let op = pick(r, &["+", "-", "*"]);
        let v = match op {
            "+" => a + b,
            "-" => a - b,
            _ => a * b,
        };
        (format!("{a} {op} {b}\n"), format!("{v}\n"))
    });
    gen_(
        "Read a line a op b, where a and b are integers and op is +, - or *. Print the result.",
        "a, op, b = input().split()\na, b = int(a), int(b)\nprint(a + b if op == '+' else a - b if \
         op == '-' else a * b)\n",
        t,
    )
}

fn count_greater(rng: &mut R) -> Generated {
    let intro = list_intro(rng);
    let k = rng.random_range(-10..=10i64);
    let t = cases(rng, |r| {
        let n = r.random_range(1..=8usize);
        let a = ints(r, n, -20, 20);
        (
            list_input(&a),
            format!("{}\n", a.iter().filter(|x| **x > k).count()),
        )
    });
    gen_(
        format!("{intro} Print how many of them are greater than {k}."),
        format!("{LIST_READ}print(sum(1 for x in a if x > {k}))\n"),
        t,
    )
}

fn caesar(rng: &mut R) -> Generated {
    let k = rng.random_range(1..=25u8);
    let t = cases(rng, |r| {
        let s = word(r, 1, 10);
        let out: String = s
            .bytes()
            .map(|c| ((c - b'a' + k) % 26 + b'a') as char)
            .collect();
        (format!("{s}\n"), format!("{out}\n"))
    });
    gen_(
        format!(
            "Read a lowercase word. Move each letter {k} places forward in the alphabet, wrapping \
             from z to a. Print the result."
        ),
        format!("print(''.join(chr((ord(c) - 97 + {k}) % 26 + 97) for c in input()))\n"),
        t,
    )
}

fn fizzbuzz(rng: &mut R) -> Generated {
    let (a, b) = *[(3, 5), (2, 3), (3, 4), (2, 5), (4, 7)]
        .choose(rng)
        .unwrap_or(&(3, 5));
    let t = cases(rng, |r| {
        let n = r.random_range(1..=20u32);
        let out: String = (1..=n)
            .map(|i| match (i % a == 0, i % b == 0) {
                (true, true) => "FizzBuzz\n".to_string(),
                (true, false) => "Fizz\n".to_string(),
                (false, true) => "Buzz\n".to_string(),
                _ => format!("{i}\n"),
            })
            .collect();
        (format!("{n}\n"), out)
    });
    gen_(
        format!(
            "Read n. For each i from 1 to n print Fizz if i is divisible by {a}, Buzz if by {b}, \
             FizzBuzz if by both, otherwise i."
        ),
        format!(
            "n = int(input())\nfor i in range(1, n + 1):\n    print('Fizz' * (i % {a} == 0) + \
             'Buzz' * (i % {b} == 0) or i)\n"
        ),
        t,
    )
}

fn anagram(rng: &mut R) -> Generated {
    let t = cases(rng, |r| {
        let a = word_from(r, b"abcd", 1, 6);
        let b = if r.random_bool(0.5) {
            let mut v: Vec<char> = a.chars().collect();
            let shift = r.random_range(0..v.len());
            v.rotate_left(shift);
            v.into_iter().collect()
        } else {
            word_from(r, b"abcd", 1, 6)
        };
        let sorted = |s: &str| {
            let mut v: Vec<char> = s.chars().collect();
            v.sort();
            v
        };
        (
            format!("{a} {b}\n"),
            format!("{}\n", yes_no(sorted(&a) == sorted(&b))),
        )
    });
    gen_(
        "Read two words from one line. Print YES if one is a rearrangement of the letters of the \
         other, otherwise NO.",
        "a, b = input().split()\nprint('YES' if sorted(a) == sorted(b) else 'NO')\n",
        t,
    )
}

fn grades(rng: &mut R) -> Generated {
    let t = cases(rng, |r| {
        let n = r.random_range(1..=6usize);
        let s = ints(r, n, 0, 100);
        let out: String = s
            .iter()
            .map(|x| match x {
                90.. => "A\n",
                80..=89 => "B\n",
                70..=79 => "C\n",
                _ => "F\n",
            })
            .collect();
        let input: String = std::iter::once(n.to_string())
            .chain(s.iter().map(i64::to_string))
            .map(|l| l + "\n")
            .collect();
        (input, out)
    });
    gen_(
        "The first line has n. Each of the next n lines has a score from 0 to 100. For each score \
         print A if it is at least 90, B if at least 80, C if at least 70, otherwise F.",
        "for _ in range(int(input())):\n    s = int(input())\n    print('A' if s >= 90 else 'B' if \
         s >= 80 else 'C' if s >= 70 else 'F')\n",
        t,
    )
}

// ---- difficulty 4: parsing several lines, small simulations ----

fn robot_walk(rng: &mut R) -> Generated {
    let t = cases(rng, |r| {
        let s = word_from(r, b"UDLR", 1, 15);
        let (mut x, mut y) = (0i64, 0i64);
        for c in s.chars() {
            match c {
                'U' => y += 1,
                'D' => y -= 1,
                'R' => x += 1,
                _ => x -= 1,
            }
        }
        (format!("{s}\n"), format!("{x} {y}\n"))
    });
    gen_(
        "A robot starts at (0, 0). Read a line of moves: U adds 1 to y, D subtracts 1 from y, R \
         adds 1 to x, L subtracts 1 from x. Print the final x and y separated by a space.",
        "x = y = 0\nfor c in input():\n    x += (c == 'R') - (c == 'L')\n    y += (c == 'U') - (c \
         == 'D')\nprint(x, y)\n",
        t,
    )
}

fn bank_account(rng: &mut R) -> Generated {
    let t = cases(rng, |r| {
        let n = r.random_range(1..=6usize);
        let mut balance = 0i64;
        let mut input = format!("{n}\n");
        for _ in 0..n {
            let x = r.random_range(1..=100i64);
            if r.random_bool(0.5) {
                balance += x;
                input.push_str(&format!("deposit {x}\n"));
            } else {
                if x <= balance {
                    balance -= x;
                }
                input.push_str(&format!("withdraw {x}\n"));
            }
        }
        (input, format!("{balance}\n"))
    });
    gen_(
        "The first line has n. Each of the next n lines is deposit x or withdraw x. Start with a \
         balance of 0; a withdrawal larger than the balance is ignored. Print the final balance.",
        "b = 0\nfor _ in range(int(input())):\n    op, x = input().split()\n    if op == \
         'deposit':\n        b += int(x)\n    elif int(x) <= b:\n        b -= int(x)\nprint(b)\n",
        t,
    )
}

fn run_length(rng: &mut R) -> Generated {
    let t = cases(rng, |r| {
        let s = word_from(r, b"ab", 1, 12);
        let mut out = String::new();
        let bytes = s.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let j = (i..bytes.len())
                .find(|&j| bytes[j] != bytes[i])
                .unwrap_or(bytes.len());
            out.push_str(&format!("{}{}", bytes[i] as char, j - i));
            i = j;
        }
        (format!("{s}\n"), format!("{out}\n"))
    });
    gen_(
        "Read a word. Write each run of equal letters as the letter followed by the run's length \
         (aaab becomes a3b1). Print the result.",
        "from itertools import groupby\nprint(''.join(k + str(len(list(g))) for k, g in \
         groupby(input())))\n",
        t,
    )
}

fn balanced_brackets(rng: &mut R) -> Generated {
    let t = cases(rng, |r| {
        let s = if r.random_bool(0.5) {
            balanced(r, 3)
        } else {
            word_from(r, b"()[]{}", 1, 8)
        };
        let mut stack = Vec::new();
        let mut ok = true;
        for c in s.chars() {
            match c {
                '(' | '[' | '{' => stack.push(c),
                _ => {
                    let want = match c {
                        ')' => '(',
                        ']' => '[',
                        _ => '{',
                    };
                    if stack.pop() != Some(want) {
                        ok = false;
                    }
                }
            }
        }
        (
            format!("{s}\n"),
            format!("{}\n", yes_no(ok && stack.is_empty())),
        )
    });
    gen_(
        "Read a line made of the characters ( ) [ ] { }. Print YES if every bracket is closed in \
         the right order, otherwise NO.",
        "st = []\nok = True\nfor c in input():\n    if c in '([{':\n        st.append(c)\n    elif \
         not st or '([{'[')]}'.index(c)] != st.pop():\n        ok = False\nprint('YES' if ok and \
         not st else 'NO')\n",
        t,
    )
}

/// A random balanced bracket string of nesting at most `depth`.
fn balanced(r: &mut R, depth: u32) -> String {
    let n = r.random_range(1..=3);
    (0..n)
        .map(|_| {
            let (o, c) = *[('(', ')'), ('[', ']'), ('{', '}')]
                .choose(r)
                .unwrap_or(&('(', ')'));
            let inner = if depth > 1 && r.random_bool(0.5) {
                balanced(r, depth - 1)
            } else {
                String::new()
            };
            format!("{o}{inner}{c}")
        })
        .collect()
}

fn word_frequency(rng: &mut R) -> Generated {
    let t = cases(rng, |r| {
        let n = r.random_range(1..=8usize);
        let w: Vec<String> = (0..n)
            .map(|_| pick(r, &["red", "blue", "green", "cat", "dog", "sun"]).to_string())
            .collect();
        let mut counts: Vec<(String, usize)> = Vec::new();
        for x in &w {
            match counts.iter_mut().find(|(k, _)| k == x) {
                Some(e) => e.1 += 1,
                None => counts.push((x.clone(), 1)),
            }
        }
        counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        (format!("{}\n", w.join(" ")), format!("{}\n", counts[0].0))
    });
    gen_(
        "Read a line of words. Print the word that appears most often; if several do, print the \
         first of them in alphabetical order.",
        "from collections import Counter\nc = Counter(input().split())\nprint(min(c, key=lambda w: \
         (-c[w], w)))\n",
        t,
    )
}

fn key_value_lookup(rng: &mut R) -> Generated {
    let t = cases(rng, |r| {
        let mut names = vec!["ann", "bob", "cid", "dan", "eve", "fay", "gus"];
        let n = r.random_range(1..=5usize);
        let mut input = format!("{n}\n");
        let mut table = Vec::new();
        for _ in 0..n {
            let i = r.random_range(0..names.len());
            let name = names.remove(i);
            let v = r.random_range(0..=99);
            input.push_str(&format!("{name} {v}\n"));
            table.push((name, v));
        }
        let (query, answer) = if r.random_bool(0.7) {
            let (k, v) = table[r.random_range(0..table.len())];
            (k.to_string(), v.to_string())
        } else {
            (
                names[r.random_range(0..names.len())].to_string(),
                "NONE".to_string(),
            )
        };
        input.push_str(&format!("{query}\n"));
        (input, format!("{answer}\n"))
    });
    gen_(
        "The first line has n. Each of the next n lines has a name and a number. The last line has \
         a name. Print that name's number, or NONE if it is not listed.",
        "n = int(input())\nd = dict(input().split() for _ in range(n))\nprint(d.get(input(), \
         'NONE'))\n",
        t,
    )
}

fn stack_machine(rng: &mut R) -> Generated {
    let t = cases(rng, |r| {
        let n = r.random_range(1..=7usize);
        let mut stack: Vec<i64> = Vec::new();
        let mut input = format!("{n}\n");
        for _ in 0..n {
            if !stack.is_empty() && r.random_bool(0.35) {
                stack.pop();
                input.push_str("pop\n");
            } else {
                let x = r.random_range(0..=9);
                stack.push(x);
                input.push_str(&format!("push {x}\n"));
            }
        }
        let out = if stack.is_empty() {
            "EMPTY".to_string()
        } else {
            joined(&stack)
        };
        (input, format!("{out}\n"))
    });
    gen_(
        "The first line has n. Each of the next n lines is push x or pop (pop removes the top \
         value). Print the values left on the stack from bottom to top, separated by spaces, or \
         EMPTY.",
        "st = []\nfor _ in range(int(input())):\n    cmd = input().split()\n    if cmd[0] == \
         'push':\n        st.append(cmd[1])\n    else:\n        st.pop()\nprint(' '.join(st) if st \
         else 'EMPTY')\n",
        t,
    )
}

fn transpose(rng: &mut R) -> Generated {
    let t = cases(rng, |r| {
        let (rows, cols) = (r.random_range(1..=4usize), r.random_range(1..=4usize));
        let m: Vec<Vec<i64>> = (0..rows).map(|_| ints(r, cols, 0, 9)).collect();
        let mut input = format!("{rows} {cols}\n");
        for row in &m {
            input.push_str(&format!("{}\n", joined(row)));
        }
        let out: String = (0..cols)
            .map(|j| {
                format!(
                    "{}\n",
                    joined(&m.iter().map(|row| row[j]).collect::<Vec<_>>())
                )
            })
            .collect();
        (input, out)
    });
    gen_(
        "The first line has r and c. Each of the next r lines has c integers. Print the transposed \
         table: c lines of r integers separated by spaces.",
        "r, c = map(int, input().split())\nm = [input().split() for _ in range(r)]\nfor j in \
         range(c):\n    print(' '.join(m[i][j] for i in range(r)))\n",
        t,
    )
}

fn elevator(rng: &mut R) -> Generated {
    let t = cases(rng, |r| {
        let n = r.random_range(1..=6usize);
        let a = ints(r, n, 0, 20);
        let mut at = 0;
        let mut total = 0;
        for x in &a {
            total += (x - at).abs();
            at = *x;
        }
        (list_input(&a), format!("{total}\n"))
    });
    gen_(
        "An elevator starts at floor 0. The first line has n. The second line has the n floors it \
         visits in order. Print the total number of floors it travels.",
        format!("{LIST_READ}f = t = 0\nfor x in a:\n    t += abs(x - f)\n    f = x\nprint(t)\n"),
        t,
    )
}

// ---- difficulty 5: a small algorithm with a loop invariant ----

fn max_subarray(rng: &mut R) -> Generated {
    list_family(
        rng,
        "Print the largest sum of a non-empty run of consecutive integers.",
        "best = cur = a[0]\nfor x in a[1:]:\n    cur = max(x, cur + x)\n    best = max(best, \
         cur)\nprint(best)\n",
        |a| {
            let mut best = i64::MIN;
            for i in 0..a.len() {
                for j in i..a.len() {
                    best = best.max(a[i..=j].iter().sum());
                }
            }
            best.to_string()
        },
    )
}

fn longest_increasing_run(rng: &mut R) -> Generated {
    list_family(
        rng,
        "Print the length of the longest run of consecutive integers in which each is larger than \
         the one before.",
        "best = cur = 1\nfor i in range(1, n):\n    cur = cur + 1 if a[i] > a[i - 1] else 1\n    \
         best = max(best, cur)\nprint(best)\n",
        |a| {
            let (mut best, mut cur) = (1, 1);
            for w in a.windows(2) {
                cur = if w[1] > w[0] { cur + 1 } else { 1 };
                best = best.max(cur);
            }
            best.to_string()
        },
    )
}

fn pair_sum(rng: &mut R) -> Generated {
    let intro = list_intro(rng);
    let k = rng.random_range(0..=10i64);
    let t = cases(rng, |r| {
        let n = r.random_range(1..=8usize);
        let a = ints(r, n, 0, 10);
        let c = (0..n)
            .flat_map(|i| (i + 1..n).map(move |j| (i, j)))
            .filter(|&(i, j)| a[i] + a[j] == k)
            .count();
        (list_input(&a), format!("{c}\n"))
    });
    gen_(
        format!("{intro} Print how many pairs of positions i < j have a[i] + a[j] = {k}."),
        format!(
            "{LIST_READ}print(sum(a[i] + a[j] == {k} for i in range(n) for j in range(i + 1, n)))\n"
        ),
        t,
    )
}

fn josephus(rng: &mut R) -> Generated {
    let t = cases(rng, |r| {
        let (n, k) = (r.random_range(1..=12usize), r.random_range(1..=5usize));
        let mut p: Vec<usize> = (1..=n).collect();
        let mut i = 0;
        while p.len() > 1 {
            i = (i + k - 1) % p.len();
            p.remove(i);
        }
        (format!("{n} {k}\n"), format!("{}\n", p[0]))
    });
    gen_(
        "n people numbered 1 to n stand in a circle. Counting from person 1, every k-th person \
         leaves the circle; counting goes on from the next one. Read n and k from one line. Print \
         the number of the last person left.",
        "n, k = map(int, input().split())\np = list(range(1, n + 1))\ni = 0\nwhile len(p) > \
         1:\n    i = (i + k - 1) % len(p)\n    p.pop(i)\nprint(p[0])\n",
        t,
    )
}

fn lcs_length(rng: &mut R) -> Generated {
    let t = cases(rng, |r| {
        let (a, b) = (word_from(r, b"abc", 1, 7), word_from(r, b"abc", 1, 7));
        let (a, b) = (a.as_bytes(), b.as_bytes());
        let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
        for i in 0..a.len() {
            for j in 0..b.len() {
                d[i + 1][j + 1] = if a[i] == b[j] {
                    d[i][j] + 1
                } else {
                    d[i][j + 1].max(d[i + 1][j])
                };
            }
        }
        let (sa, sb) = (String::from_utf8_lossy(a), String::from_utf8_lossy(b));
        (
            format!("{sa}\n{sb}\n"),
            format!("{}\n", d[a.len()][b.len()]),
        )
    });
    gen_(
        "Read two words, one per line. Print the length of their longest common subsequence \
         (letters taken in order, not necessarily next to each other).",
        "a, b = input(), input()\nd = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]\nfor i in \
         range(len(a)):\n    for j in range(len(b)):\n        d[i + 1][j + 1] = d[i][j] + 1 if \
         a[i] == b[j] else max(d[i][j + 1], d[i + 1][j])\nprint(d[-1][-1])\n",
        t,
    )
}

fn interval_union(rng: &mut R) -> Generated {
    let t = cases(rng, |r| {
        let n = r.random_range(1..=5usize);
        let iv: Vec<(i64, i64)> = (0..n)
            .map(|_| {
                let l = r.random_range(0..=20i64);
                (l, l + r.random_range(1..=6i64))
            })
            .collect();
        let covered = (0..=30i64)
            .filter(|x| iv.iter().any(|(l, rr)| *l <= *x && *x < *rr))
            .count();
        let input: String = std::iter::once(format!("{n}\n"))
            .chain(iv.iter().map(|(l, rr)| format!("{l} {rr}\n")))
            .collect();
        (input, format!("{covered}\n"))
    });
    gen_(
        "The first line has n. Each of the next n lines has two integers l < r, a segment from l \
         to r. Print the total length covered by the union of the segments.",
        "n = int(input())\niv = sorted(tuple(map(int, input().split())) for _ in range(n))\ntotal, \
         end = 0, -1\nfor l, r in iv:\n    if r > end:\n        total += r - max(l, end)\n        \
         end = r\nprint(total)\n",
        t,
    )
}

macro_rules! families {
    ($($d:literal $f:ident),* $(,)?) => {
        /// Every family of the suite, easiest first.
        pub static FAMILIES: &[Family] = &[
            $(Family { name: stringify!($f), difficulty: $d, generate: $f }),*
        ];
    };
}

families! {
    1 sum_two, 1 difference_two, 1 product_two, 1 add_constant, 1 multiply_constant, 1 square,
    1 upper_case, 1 reverse_string, 1 string_length, 1 max_of_two, 1 repeat_word, 1 greeting,
    2 sum_list, 2 max_list, 2 min_list, 2 count_even, 2 sort_ascending, 2 sort_descending,
    2 average_floor, 2 count_char, 2 count_vowels, 2 count_words, 2 parity, 2 sign, 2 div_mod,
    2 abs_difference,
    3 factorial, 3 fibonacci, 3 is_prime, 3 gcd, 3 lcm, 3 digit_sum, 3 palindrome, 3 count_distinct,
    3 prefix_sums, 3 reverse_words, 3 range_sum, 3 multiplication_table, 3 second_largest, 3 binary,
    3 calculator, 3 count_greater, 3 caesar, 3 fizzbuzz, 3 anagram, 3 grades,
    4 robot_walk, 4 bank_account, 4 run_length, 4 balanced_brackets, 4 word_frequency,
    4 key_value_lookup, 4 stack_machine, 4 transpose, 4 elevator,
    5 max_subarray, 5 longest_increasing_run, 5 pair_sum, 5 josephus, 5 lcs_length,
    5 interval_union,
}
