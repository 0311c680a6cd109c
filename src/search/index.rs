//! The full-text index (tantivy): its schema, how an instrument becomes a document, and how
//! a person's words become a query. No query syntax reaches tantivy: words are looked up as
//! terms, so quotes, `AND`, `*` or `:` are just characters.

use std::collections::HashSet;

use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, ConstScoreQuery, FuzzyTermQuery, Occur, Query, TermQuery,
    TermSetQuery,
};
use tantivy::schema::{
    Facet, FacetOptions, Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, FAST,
    INDEXED, STORED, STRING,
};
use tantivy::tokenizer::{TextAnalyzer, Token, TokenStream, Tokenizer};
use tantivy::{Index, TantivyDocument, Term};

use super::dictionary::{fold, Dictionary};
use crate::navigation::model::{InstrumentRow, InstrumentSummary, RunStatus, ShareMode, UnitRow};
use crate::navigation::service::Categories;

/// Bumped when the schema or the way documents are made changes: an index on disk with another
/// version is rebuilt.
pub const SCHEMA_VERSION: u32 = 1;

/// How much more an instrument shared externally and running normally counts than one that
/// is not, for the same words: ahead of its twins, not of a better match.
pub const GOOD_FACTOR: f32 = 1.5;

/// The analyzer of the text fields: jieba (in search mode, so 显微镜 is also found inside
/// 扫描电子显微镜), folded to lowercase half-width, punctuation dropped.
pub const ANALYZER: &str = "yiqi_zh";

#[derive(Clone, Copy)]
pub struct Fields {
    pub id: Field,
    pub name: Field,
    pub model: Field,
    pub maker: Field,
    pub category: Field,
    pub body: Field,
    pub place: Field,
    pub name_exact: Field,
    pub model_exact: Field,
    /// 1 for an instrument shared externally and running normally (a fast field the ranking
    /// reads), else 0.
    pub good: Field,
    pub sub_platform: Field,
    pub unit: Field,
    pub unit_kind: Field,
    pub share_mode: Field,
    pub city: Field,
    pub cat: Field,
    pub facets: Field,
    pub summary: Field,
}

/// The text fields a word is looked for in, with how much a match there counts.
fn weighted(f: &Fields) -> [(Field, f32); 6] {
    [
        (f.name, 4.0),
        (f.model, 3.0),
        (f.maker, 2.5),
        (f.category, 2.0),
        (f.place, 1.0),
        (f.body, 0.6),
    ]
}

pub fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let text = |stored: bool| {
        let o = TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(ANALYZER)
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        );
        if stored {
            o.set_stored()
        } else {
            o
        }
    };
    let fields = Fields {
        id: b.add_u64_field("id", INDEXED | STORED | FAST),
        name: b.add_text_field("name", text(true)),
        model: b.add_text_field("model", text(false)),
        maker: b.add_text_field("maker", text(false)),
        category: b.add_text_field("category", text(false)),
        body: b.add_text_field("body", text(true)),
        place: b.add_text_field("place", text(false)),
        name_exact: b.add_text_field("name_exact", STRING),
        model_exact: b.add_text_field("model_exact", STRING),
        good: b.add_u64_field("good", FAST),
        sub_platform: b.add_text_field("sub_platform", STRING),
        unit: b.add_text_field("unit", STRING),
        unit_kind: b.add_text_field("unit_kind", STRING),
        share_mode: b.add_text_field("share_mode", STRING),
        city: b.add_text_field("city", STRING),
        cat: b.add_text_field("cat", STRING),
        facets: b.add_facet_field("facets", FacetOptions::default()),
        summary: b.add_text_field("summary", STORED),
    };
    (b.build(), fields)
}

pub fn register_analyzer(index: &Index) {
    index
        .tokenizers()
        .register(ANALYZER, TextAnalyzer::from(FieldTokenizer::default()));
}

/// Jieba's tokens, folded, without the ones that hold no letter or digit.
#[derive(Clone)]
pub struct FieldTokenizer {
    jieba: tantivy_jieba::JiebaTokenizer,
}

impl Default for FieldTokenizer {
    fn default() -> Self {
        FieldTokenizer {
            jieba: tantivy_jieba::JiebaTokenizer::with_search_mode(true),
        }
    }
}

pub struct VecTokenStream {
    tokens: Vec<Token>,
    next: usize,
}

impl TokenStream for VecTokenStream {
    fn advance(&mut self) -> bool {
        self.next += 1;
        self.next <= self.tokens.len()
    }
    fn token(&self) -> &Token {
        &self.tokens[self.next - 1]
    }
    fn token_mut(&mut self) -> &mut Token {
        &mut self.tokens[self.next - 1]
    }
}

impl Tokenizer for FieldTokenizer {
    type TokenStream<'a> = VecTokenStream;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> VecTokenStream {
        let mut stream = self.jieba.token_stream(text);
        let mut tokens = Vec::new();
        while stream.advance() {
            let t = stream.token();
            if !t.text.chars().any(char::is_alphanumeric) {
                continue;
            }
            let mut t = t.clone();
            t.text = fold(&t.text);
            t.position = tokens.len();
            tokens.push(t);
        }
        VecTokenStream { tokens, next: 0 }
    }
}

impl FieldTokenizer {
    /// Jieba's default mode: words in the order of the text, never overlapping. The highlights
    /// use it, because the search mode gives a word's pieces before the word itself, and the
    /// snippet builder counts on offsets that only move forward.
    pub fn forward() -> FieldTokenizer {
        FieldTokenizer {
            jieba: tantivy_jieba::JiebaTokenizer::with_search_mode(false),
        }
    }
}

/// The words of `text` as the index holds them, without the pieces the search mode also gives
/// of a longer word (扫描电子显微镜 → not also 电子, 显微镜): a document that has the word has
/// its pieces too, so asking for them finds nothing more and costs a scorer each.
pub fn tokens(text: &str) -> Vec<String> {
    let mut t = FieldTokenizer::default();
    let mut stream = t.token_stream(text);
    let mut all: Vec<(usize, usize, String)> = Vec::new();
    while stream.advance() {
        let tok = stream.token();
        all.push((tok.offset_from, tok.offset_to, tok.text.clone()));
    }
    let inside = |(from, to, _): &(usize, usize, String)| {
        all.iter()
            .any(|(f, t, _)| f <= from && to <= t && t - f > to - from)
    };
    let mut out: Vec<String> = Vec::new();
    for tok in all.iter().filter(|t| !inside(t)) {
        if !out.contains(&tok.2) {
            out.push(tok.2.clone());
        }
    }
    out
}

/// A model number as it is compared: letters and digits only ("JEM-F200" = "jemf200").
pub fn model_key(model: &str) -> String {
    fold(model)
        .chars()
        .filter(|c| c.is_alphanumeric())
        .collect()
}

/// The abbreviations an English name gives in brackets: "… (FE-SEM)" → "fe-sem".
fn bracketed(name: &str) -> Vec<String> {
    name.split(['(', '（'])
        .skip(1)
        .filter_map(|s| s.split([')', '）']).next())
        .map(fold)
        .collect()
}

pub fn document(
    f: &Fields,
    categories: &Categories,
    i: &InstrumentRow,
    u: &UnitRow,
) -> anyhow::Result<TantivyDocument> {
    let mut d = TantivyDocument::default();
    d.add_u64(f.id, i.id.0 as u64);
    d.add_text(f.name, format!("{} {}", i.name_zh, i.name_en));
    d.add_text(f.model, &i.model);
    d.add_text(f.maker, &i.manufacturer);
    let path = categories.path(&i.category_code);
    d.add_text(
        f.category,
        path.iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>()
            .join(" "),
    );
    d.add_text(
        f.body,
        format!("{}\n{}\n{}", i.functions, i.service_content, i.specs),
    );
    d.add_text(
        f.place,
        format!("{} {} {} {}", u.name, u.short_name, i.department, i.city),
    );
    let mut exact: HashSet<String> = [fold(&i.name_zh), fold(&i.name_en)].into();
    exact.extend(bracketed(&i.name_en));
    for e in exact.into_iter().filter(|e| !e.is_empty()) {
        d.add_text(f.name_exact, e);
    }
    d.add_text(f.model_exact, model_key(&i.model));
    let good = i.share_mode == ShareMode::External && i.run_status == RunStatus::Normal;
    d.add_u64(f.good, u64::from(good));
    d.add_text(f.sub_platform, u.sub_platform_id.to_string());
    d.add_text(f.unit, u.id.to_string());
    d.add_text(f.unit_kind, u.kind.code());
    d.add_text(f.share_mode, i.share_mode.code());
    d.add_text(f.city, &i.city);
    for c in &path {
        d.add_text(f.cat, &c.code);
    }
    let class = path.first().map_or("", |c| c.code.as_str());
    // Built from parts, so a "/" in a city's name stays part of the name.
    for (root, value) in [
        ("category", class.to_owned()),
        ("city", i.city.clone()),
        ("sub_platform", u.sub_platform_id.to_string()),
        ("unit_kind", u.kind.code().to_owned()),
        ("share_mode", i.share_mode.code().to_owned()),
    ] {
        d.add_facet(f.facets, Facet::from_path([root, value.as_str()]));
    }
    let summary = InstrumentSummary {
        id: i.id,
        name_zh: i.name_zh.clone(),
        name_en: i.name_en.clone(),
        model: i.model.clone(),
        manufacturer: i.manufacturer.clone(),
        category: categories.reference(&i.category_code),
        unit: crate::navigation::model::UnitRef {
            id: u.id,
            name: u.name.clone(),
        },
        city: i.city.clone(),
        original_value_yuan: crate::types::Yuan(i.original_value_yuan),
        share_mode: i.share_mode,
        run_status: i.run_status,
    };
    d.add_text(f.summary, serde_json::to_string(&summary)?);
    Ok(d)
}

fn term(field: Field, text: &str) -> Box<dyn Query> {
    Box::new(TermQuery::new(
        Term::from_field_text(field, text),
        IndexRecordOption::WithFreqs,
    ))
}

/// One word of an alternative, looked for in every text field; a Latin word of five letters
/// or more also with one typo ("spectrometr").
fn word_query(f: &Fields, word: &str) -> Box<dyn Query> {
    let mut any: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    for (field, boost) in weighted(f) {
        any.push((
            Occur::Should,
            Box::new(BoostQuery::new(term(field, word), boost)),
        ));
    }
    if word.chars().count() >= 5 && word.chars().all(|c| c.is_ascii_alphabetic()) {
        for (field, boost) in [(f.name, 1.5), (f.maker, 1.0), (f.category, 1.0)] {
            any.push((
                Occur::Should,
                Box::new(BoostQuery::new(
                    Box::new(FuzzyTermQuery::new(
                        Term::from_field_text(field, word),
                        1,
                        true,
                    )),
                    boost,
                )),
            ));
        }
    }
    let key = model_key(word);
    if key.chars().any(|c| c.is_ascii_digit()) {
        any.push((
            Occur::Should,
            Box::new(ConstScoreQuery::new(term(f.model_exact, &key), 12.0)),
        ));
    }
    Box::new(BooleanQuery::new(any))
}

/// One concept of the query: any of its alternatives (a word and what the dictionary says it
/// means), each alternative needing all of its words. The word as typed counts more.
fn concept_query(f: &Fields, alternatives: &[String]) -> Option<Box<dyn Query>> {
    let words: Vec<Vec<String>> = alternatives.iter().map(|a| tokens(a)).collect();
    let is_model = |alt: &str, words: &[String]| {
        let key = model_key(alt);
        key.len() >= 3 && key.chars().any(|c| c.is_ascii_digit()) && words.len() > 1
    };
    // An alternative with every word of another (质谱 in 气相色谱质谱联用仪) finds nothing
    // that one does not: it is left out, and the query walks one conjunction less.
    let implied = |i: usize| {
        !is_model(&alternatives[i], &words[i])
            && words.iter().enumerate().any(|(j, other)| {
                j != i
                    && !other.is_empty()
                    && other.iter().all(|w| words[i].contains(w))
                    && (other.len() < words[i].len() || j < i)
            })
    };
    let mut any: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    for (n, alt) in alternatives.iter().enumerate() {
        let words = &words[n];
        let key = model_key(alt);
        if words.is_empty() || implied(n) {
            continue;
        }
        let mut all: Vec<(Occur, Box<dyn Query>)> = words
            .iter()
            .map(|w| (Occur::Must, word_query(f, w)))
            .collect();
        // "JEM-F200" and "JEMF200" are one model.
        if is_model(alt, words) {
            all = vec![(
                Occur::Must,
                Box::new(BooleanQuery::new(vec![
                    (
                        Occur::Should,
                        Box::new(BooleanQuery::new(all)) as Box<dyn Query>,
                    ),
                    (
                        Occur::Should,
                        Box::new(ConstScoreQuery::new(term(f.model_exact, &key), 12.0)),
                    ),
                ])) as Box<dyn Query>,
            )];
        }
        let weight = if n == 0 { 1.0 } else { 0.8 };
        any.push((
            Occur::Should,
            Box::new(BoostQuery::new(Box::new(BooleanQuery::new(all)), weight)),
        ));
    }
    (!any.is_empty()).then(|| Box::new(BooleanQuery::new(any)) as Box<dyn Query>)
}

/// The concepts of a query: dictionary words found whole, and jieba's words for the rest.
pub fn concepts(dictionary: &Dictionary, q: &str) -> Vec<Vec<String>> {
    let folded = fold(q);
    let mut out: Vec<Vec<String>> = Vec::new();
    let mut push = |c: Vec<String>| {
        if !out.contains(&c) {
            out.push(c);
        }
    };
    for part in folded.split(|c: char| c.is_whitespace()) {
        if part.is_empty() {
            continue;
        }
        if dictionary.contains(part) {
            push(dictionary.expand(part));
            continue;
        }
        for (piece, known) in dictionary.segment(part) {
            if known {
                push(dictionary.expand(&piece));
            } else {
                // Kept whole when it is a model number ("jem-f200"), else word by word.
                if piece.chars().any(|c| c.is_ascii_digit())
                    && piece.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                {
                    push(vec![piece.clone()]);
                    continue;
                }
                for w in tokens(&piece) {
                    push(dictionary.expand(&w));
                }
            }
        }
    }
    out
}

/// Every concept must match (or, `loose`, any); an exact name or abbreviation counts most.
pub fn text_query(
    f: &Fields,
    dictionary: &Dictionary,
    q: &str,
    loose: bool,
) -> Option<Box<dyn Query>> {
    // Past a dozen concepts a query is not a person's (and each one widens the query).
    let concepts: Vec<Vec<String>> = concepts(dictionary, q).into_iter().take(12).collect();
    let occur = if loose { Occur::Should } else { Occur::Must };
    let parts: Vec<(Occur, Box<dyn Query>)> = concepts
        .iter()
        .filter_map(|c| concept_query(f, c))
        .map(|q| (occur, q))
        .collect();
    if parts.is_empty() {
        return None;
    }
    let mut exact: Vec<(Occur, Box<dyn Query>)> =
        vec![(Occur::Should, term(f.name_exact, &fold(q)))];
    for alt in dictionary.expand(q) {
        exact.push((Occur::Should, term(f.name_exact, &alt)));
    }
    Some(Box::new(BooleanQuery::new(vec![
        (
            Occur::Must,
            Box::new(BooleanQuery::new(parts)) as Box<dyn Query>,
        ),
        (
            Occur::Should,
            Box::new(ConstScoreQuery::new(
                Box::new(BooleanQuery::new(exact)),
                50.0,
            )),
        ),
    ])))
}

/// Filters that every result must pass.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Filters {
    pub sub_platform: Option<crate::types::SubPlatformId>,
    pub unit: Option<crate::types::UnitId>,
    pub category: Option<String>,
    pub city: Option<String>,
    pub share_mode: Option<ShareMode>,
    pub unit_kind: Option<crate::navigation::model::UnitKind>,
    /// Only these instruments (the ones free in the asked window).
    pub only: Option<Vec<crate::types::InstrumentId>>,
    /// Leave out instruments that are not shared at all (nobody can book them).
    pub bookable: bool,
}

/// `text` (or everything) within the filters, which add nothing to the score.
pub fn filtered(f: &Fields, text: Option<Box<dyn Query>>, filters: &Filters) -> Box<dyn Query> {
    let mut all: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    all.push((Occur::Must, text.unwrap_or_else(|| Box::new(AllQuery))));
    let term = |field: Field, text: &str| -> Box<dyn Query> {
        Box::new(ConstScoreQuery::new(term(field, text), 0.0))
    };
    if let Some(v) = filters.sub_platform {
        all.push((Occur::Must, term(f.sub_platform, &v.to_string())));
    }
    if let Some(v) = filters.unit {
        all.push((Occur::Must, term(f.unit, &v.to_string())));
    }
    if let Some(v) = &filters.category {
        all.push((Occur::Must, term(f.cat, v)));
    }
    if let Some(v) = &filters.city {
        all.push((Occur::Must, term(f.city, v)));
    }
    if let Some(v) = filters.share_mode {
        all.push((Occur::Must, term(f.share_mode, v.code())));
    }
    if let Some(v) = filters.unit_kind {
        all.push((Occur::Must, term(f.unit_kind, v.code())));
    }
    if filters.bookable {
        all.push((
            Occur::MustNot,
            term(f.share_mode, ShareMode::NotShared.code()),
        ));
    }
    if let Some(ids) = &filters.only {
        let terms = ids.iter().map(|id| Term::from_field_u64(f.id, id.0 as u64));
        all.push((Occur::Must, Box::new(TermSetQuery::new(terms))));
    }
    Box::new(BooleanQuery::new(all))
}
