# Presidio's predefined recognizers over texts, for `npm run bench:quality` (quality.measure.ts).
# Reads JSON lines {"id", "text", "context"} on stdin, writes JSON lines {"id", "results":
# [[entity, start, end, score], ...]} on stdout. Every predefined recognizer that needs no
# model runs, for English (those Presidio configures for other languages too, so the set is
# as broad as ours with every pack on). spaCy is a blank English pipeline (no NER model can
# be downloaded here) with each token's lower-case form as its lemma, so Presidio's context
# words still work; the JSON key names above a value are passed as context, as we use them.

import inspect
import json
import sys

import spacy
import tldextract
from spacy.language import Language
from presidio_analyzer import AnalyzerEngine, EntityRecognizer, RecognizerRegistry
from presidio_analyzer import predefined_recognizers
from presidio_analyzer.nlp_engine import SpacyNlpEngine

# The e-mail recognizer asks tldextract for the public suffix list, which it would download:
# use the snapshot bundled with tldextract instead (the machine is offline).
tldextract.extract = tldextract.TLDExtract(suffix_list_urls=())

# Recognizers that need a model or a service, not patterns; and the URL recognizer, whose
# public-suffix list would be fetched from the network (and which no detector of ours
# compares to).
MODEL_BASED = (
    "Url",
    "Spacy",
    "Stanza",
    "Transformers",
    "HuggingFace",
    "Gliner",
    "GLiNER",
    "Azure",
    "LangExtract",
    "Langextract",
    "MedicalNer",
    "Ahds",
)


@Language.component("lower_lemma")
def lower_lemma(doc):
    for token in doc:
        token.lemma_ = token.lower_
    return doc


class BlankSpacyNlpEngine(SpacyNlpEngine):
    def load(self):
        nlp = spacy.blank("en")
        nlp.add_pipe("lower_lemma")
        self.nlp = {"en": nlp}


def recognizers():
    out = []
    for name, cls in inspect.getmembers(predefined_recognizers, inspect.isclass):
        if not issubclass(cls, EntityRecognizer) or any(m in name for m in MODEL_BASED):
            continue
        try:
            out.append(cls(supported_language="en"))
        except Exception:  # an abstract base, or one that needs arguments: not predefined
            continue
    return out


def main():
    engine = BlankSpacyNlpEngine(models=[{"lang_code": "en", "model_name": "blank"}])
    engine.load()
    registry = RecognizerRegistry(supported_languages=["en"])
    names = []
    for r in recognizers():
        registry.add_recognizer(r)
        names.append(r.name)
    analyzer = AnalyzerEngine(registry=registry, nlp_engine=engine, supported_languages=["en"])
    sys.stderr.write(f"presidio: {len(names)} recognizers\n")
    for line in sys.stdin:
        item = json.loads(line)
        results = analyzer.analyze(
            text=item["text"], language="en", context=item.get("context") or None
        )
        out = [[r.entity_type, r.start, r.end, round(r.score, 3)] for r in results]
        sys.stdout.write(json.dumps({"id": item["id"], "results": out}) + "\n")


if __name__ == "__main__":
    main()
