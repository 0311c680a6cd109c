//! The words of the field: abbreviations, short forms and maker names that mean the same
//! thing, from `terms.txt` (one group per line, words separated by `|`).

use std::collections::HashMap;

/// The dictionary compiled into the binary.
pub const TERMS: &str = include_str!("terms.txt");

#[derive(Debug, Default)]
pub struct Dictionary {
    groups: Vec<Vec<String>>,
    /// A word (lowercased) → the groups it belongs to.
    by_word: HashMap<String, Vec<usize>>,
    /// The longest word in characters, for the longest-match scan of a query.
    longest: usize,
}

/// How text is compared: case and width folded, surrounding space dropped.
pub fn fold(word: &str) -> String {
    word.trim()
        .chars()
        .map(|c| match c {
            // Full-width ASCII (ＳＥＭ, typed with a Chinese input method) reads as ASCII.
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            _ => c,
        })
        .flat_map(char::to_lowercase)
        .collect()
}

impl Dictionary {
    pub fn parse(text: &str) -> Dictionary {
        let mut d = Dictionary::default();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let group: Vec<String> = line
                .split('|')
                .map(str::trim)
                .filter(|w| !w.is_empty())
                .map(str::to_owned)
                .collect();
            if group.len() < 2 {
                continue;
            }
            let n = d.groups.len();
            for word in &group {
                let key = fold(word);
                d.longest = d.longest.max(key.chars().count());
                d.by_word.entry(key).or_default().push(n);
            }
            d.groups.push(group);
        }
        d
    }

    pub fn len(&self) -> usize {
        self.groups.len()
    }

    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// Every word that means what `word` means, `word` first; just `word` when it is not in
    /// the dictionary.
    pub fn expand(&self, word: &str) -> Vec<String> {
        let key = fold(word);
        let mut out = vec![key.clone()];
        for &g in self.by_word.get(&key).into_iter().flatten() {
            for w in &self.groups[g] {
                let w = fold(w);
                if !out.contains(&w) {
                    out.push(w);
                }
            }
        }
        out
    }

    pub fn contains(&self, word: &str) -> bool {
        self.by_word.contains_key(&fold(word))
    }

    /// Splits a folded run of text into dictionary words (longest first) and the stretches
    /// between them, so 扫描电镜 stays one word instead of 扫描 + 电镜.
    pub fn segment(&self, text: &str) -> Vec<(String, bool)> {
        let chars: Vec<char> = text.chars().collect();
        let mut out: Vec<(String, bool)> = Vec::new();
        let mut rest = String::new();
        let mut i = 0;
        while i < chars.len() {
            let max = self.longest.min(chars.len() - i);
            let found = (1..=max).rev().find(|&n| {
                let word: String = chars[i..i + n].iter().collect();
                // A Latin word only counts whole: "ms" is not found inside "msds".
                let whole = |k: usize| k >= chars.len() || !chars[k].is_ascii_alphanumeric();
                let starts_whole = i == 0 || !chars[i - 1].is_ascii_alphanumeric();
                self.by_word.contains_key(&word)
                    && (!chars[i].is_ascii_alphanumeric() || starts_whole)
                    && (!chars[i + n - 1].is_ascii_alphanumeric() || whole(i + n))
            });
            match found {
                Some(n) => {
                    if !rest.trim().is_empty() {
                        out.push((std::mem::take(&mut rest), false));
                    }
                    rest.clear();
                    out.push((chars[i..i + n].iter().collect(), true));
                    i += n;
                }
                None => {
                    rest.push(chars[i]);
                    i += 1;
                }
            }
        }
        if !rest.trim().is_empty() {
            out.push((rest, false));
        }
        out
    }

    /// Every word of the dictionary, for suggestions and "did you mean".
    pub fn words(&self) -> impl Iterator<Item = &str> {
        self.groups.iter().flatten().map(String::as_str)
    }

    /// A fingerprint of the dictionary's text: an index built with another dictionary is rebuilt.
    pub fn fingerprint(text: &str) -> String {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(text.as_bytes());
        digest[..8].iter().map(|b| format!("{b:02x}")).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dictionary_has_the_words_of_the_field() {
        let d = Dictionary::parse(TERMS);
        assert!(d.len() >= 150, "{} groups", d.len());
        let sem = d.expand("sem");
        assert!(sem.contains(&"扫描电镜".to_owned()), "{sem:?}");
        assert!(d.expand("扫描电子显微镜").contains(&"sem".to_owned()));
        assert!(d.expand("蔡司").contains(&"zeiss".to_owned()));
        assert!(d.expand("ＮＭＲ").contains(&"核磁共振".to_owned()));
        assert_eq!(d.expand("不存在的词"), vec!["不存在的词".to_owned()]);
    }

    #[test]
    fn a_query_is_cut_at_dictionary_words() {
        let d = Dictionary::parse(TERMS);
        let parts = d.segment("长春扫描电镜");
        assert!(parts.contains(&("扫描电镜".to_owned(), true)), "{parts:?}");
        // "ms" inside a Latin word is not the abbreviation.
        let parts = d.segment("msds");
        assert_eq!(parts, vec![("msds".to_owned(), false)]);
    }
}
