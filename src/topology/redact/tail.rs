//! The lexical pass over what the parser did not reach (the text after a syntax error).
//!
//! Nothing there is known structurally, so it is masked conservatively: only blanks, YAML
//! punctuation (`:` `-` `?` `,` brackets, quotes, `#`, `&` `*` `!`, `|` `>`) and `key:` names
//! that start a line (after indentation and `- ` / `? `) or a flow entry stay visible. Every
//! other token is masked whole (punctuation inside it too, so `eu-west-1` becomes `*********`),
//! as are the insides of quotes (across lines), comments, anchor and alias names, and the
//! lines of a block scalar (`|`, `>`).

use super::is_blank;

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r')
}

fn is_flow_indicator(b: u8) -> bool {
    matches!(b, b',' | b'[' | b']' | b'{' | b'}')
}

/// Masks `out[from..]` (a copy of `text`) lexically; `flow_depth` is the number of flow
/// collections the parser had open at `from`.
pub(super) fn mask_tail(text: &[u8], from: usize, flow_depth: usize, out: &mut [u8]) {
    let n = text.len().min(out.len());
    let mut lx = Lexer {
        text: &text[..n],
        out: &mut out[..n],
        depth: flow_depth,
        key_pos: false,
        indent: 0,
        block: None,
    };
    let from = from.min(n);
    // The line `from` is on: its indentation, and whether a key may start at `from`.
    let line_start = text[..from]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    let prefix = &text[line_start..from];
    lx.indent = prefix.iter().take_while(|&&b| b == b' ').count();
    let last = prefix.iter().rev().copied().find(|&b| !is_space(b));
    lx.key_pos = match last {
        None | Some(b'-' | b'?') => prefix
            .iter()
            .all(|&b| is_space(b) || b == b'-' || b == b'?'),
        Some(b'{' | b'[' | b',') => lx.depth > 0,
        _ => false,
    };
    lx.run(from);
}

struct Lexer<'a> {
    text: &'a [u8],
    out: &'a mut [u8],
    /// Open flow collections.
    depth: usize,
    /// A `key:` may start here.
    key_pos: bool,
    /// Indentation of the current line.
    indent: usize,
    /// Inside a block scalar opened on a line indented this much.
    block: Option<usize>,
}

impl Lexer<'_> {
    fn at(&self, i: usize) -> Option<u8> {
        self.text.get(i).copied()
    }

    /// Whether the byte at `i` ends a plain token (a blank, the end, or in flow a `,]}`...).
    fn ends_token(&self, i: usize) -> bool {
        match self.at(i) {
            None => true,
            Some(b) => is_blank(b) || (self.depth > 0 && is_flow_indicator(b)),
        }
    }

    fn mask(&mut self, from: usize, to: usize) {
        let to = to.min(self.out.len());
        if let Some(bytes) = self.out.get_mut(from..to) {
            super::mask(bytes);
        }
    }

    fn end_of_line(&self, i: usize) -> usize {
        self.text[i..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(self.text.len(), |p| i + p)
    }

    fn run(&mut self, mut i: usize) {
        let n = self.text.len();
        while i < n {
            let b = self.text[i];
            let at_token_start = i == 0 || is_blank(self.text[i - 1]);
            i = match b {
                b'\n' => self.new_line(i + 1),
                b' ' | b'\t' | b'\r' => i + 1,
                b'#' if at_token_start => {
                    let eol = self.end_of_line(i);
                    self.mask(i + 1, eol);
                    eol
                }
                b'"' | b'\'' => {
                    self.key_pos = false;
                    let close = self.quoted(i);
                    self.mask(i + 1, close);
                    close + 1
                }
                b'{' | b'[' => {
                    self.depth += 1;
                    self.key_pos = true;
                    i + 1
                }
                b'}' | b']' => {
                    self.depth = self.depth.saturating_sub(1);
                    self.key_pos = false;
                    i + 1
                }
                b',' if self.depth > 0 => {
                    self.key_pos = true;
                    i + 1
                }
                b'-' | b'?' | b':' if self.ends_token(i + 1) => {
                    if b == b':' {
                        self.key_pos = false;
                    }
                    i + 1
                }
                b'|' | b'>' if !self.key_pos => {
                    self.block = Some(self.indent);
                    i + 1
                }
                b'&' | b'*' | b'!' => {
                    let end = self.token_end(i + 1);
                    self.mask(i + 1, end);
                    if b == b'*' {
                        self.key_pos = false;
                    }
                    end
                }
                _ => self.plain(i),
            };
        }
    }

    /// At the start of a line: inside a block scalar, masks the line if it belongs to it.
    fn new_line(&mut self, i: usize) -> usize {
        self.key_pos = true;
        self.indent = self.text[i..].iter().take_while(|&&b| b == b' ').count();
        let Some(block) = self.block else {
            return i;
        };
        let eol = self.end_of_line(i);
        let blank = self.text[i..eol].iter().all(|&b| is_space(b));
        if blank || self.indent > block {
            self.mask(i, eol);
            eol
        } else {
            self.block = None;
            i
        }
    }

    /// The index of the closing quote of the scalar opened at `open` (or the end of the text).
    fn quoted(&self, open: usize) -> usize {
        let q = self.text[open];
        let mut i = open + 1;
        while let Some(b) = self.at(i) {
            match b {
                b'\\' if q == b'"' => i += 2,
                b'\'' if q == b'\'' && self.at(i + 1) == Some(b'\'') => i += 2,
                b if b == q => return i,
                _ => i += 1,
            }
        }
        self.text.len()
    }

    fn token_end(&self, mut i: usize) -> usize {
        while !self.ends_token(i) {
            i += 1;
        }
        i
    }

    /// A plain token: kept when it is a key (`name:` where a key may start), masked otherwise.
    fn plain(&mut self, start: usize) -> usize {
        let mut i = start;
        let mut is_key = false;
        while !self.ends_token(i) {
            if self.at(i) == Some(b':') && self.ends_token(i + 1) {
                is_key = self.key_pos;
                break;
            }
            i += 1;
        }
        if !is_key {
            self.mask(start, i);
        }
        self.key_pos = false;
        i
    }
}
