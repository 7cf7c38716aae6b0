"""A Presidio analyzer REST server for callguard's tests, benchmarks and local runs.

It serves Presidio's documented analyzer API (POST /analyze with `text` as one string or a
list of strings, `language`, `entities`, `score_threshold`, `ad_hoc_recognizers`, ...;
GET /health, /recognizers, /supportedentities) over Presidio's own AnalyzerEngine and
BatchAnalyzerEngine, with a blank spaCy pipeline: no NER model can be downloaded on the
machines callguard is built on, so the predefined pattern recognizers give the spans, and
`--deny-list ENTITY=word,word` adds a deny-list recognizer that stands in for NER (names).
Python's standard HTTP server, loopback only, no Flask.
"""

import argparse
import json
import logging
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import spacy
import tldextract
from presidio_analyzer import (
    AnalyzerEngine,
    AnalyzerRequest,
    BatchAnalyzerEngine,
    PatternRecognizer,
    RecognizerRegistry,
)
from presidio_analyzer.nlp_engine import SpacyNlpEngine

# The e-mail recognizer asks tldextract for the public suffix list, which it would download:
# use the snapshot bundled with tldextract instead (the machine is offline).
tldextract.extract = tldextract.TLDExtract(suffix_list_urls=())


class BlankSpacyNlpEngine(SpacyNlpEngine):
    """spaCy without a trained model: tokens and lemmas, no named entities."""

    def load(self) -> None:
        self.nlp = {"en": spacy.blank("en")}


def build_engine(deny_lists):
    nlp = BlankSpacyNlpEngine(models=[{"lang_code": "en", "model_name": "blank"}])
    nlp.load()
    registry = RecognizerRegistry(supported_languages=["en"])
    registry.load_predefined_recognizers(nlp_engine=nlp, languages=["en"])
    for entity, words in deny_lists:
        registry.add_recognizer(
            PatternRecognizer(
                supported_entity=entity,
                deny_list=words,
                name=f"deny_list_{entity.lower()}",
            )
        )
    return AnalyzerEngine(nlp_engine=nlp, registry=registry, supported_languages=["en"])


def make_handler(engine, batch):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes: with Nagle's algorithm the body would wait
        # for the client's delayed ACK of the headers (40 ms on Linux) on a kept-alive
        # connection.
        disable_nagle_algorithm = True

        def log_message(self, *args):  # never log texts or paths with values
            pass

        def send_json(self, status, value):
            body = json.dumps(value, default=lambda o: o.to_dict(), sort_keys=True).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            path, _, query = self.path.partition("?")
            language = "en"
            for part in query.split("&"):
                if part.startswith("language="):
                    language = part[len("language="):]
            if path == "/health":
                body = b"Presidio Analyzer service is up"
                self.send_response(200)
                self.send_header("content-type", "text/plain")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            elif path == "/recognizers":
                self.send_json(200, [r.name for r in engine.get_recognizers(language)])
            elif path == "/supportedentities":
                self.send_json(200, engine.get_supported_entities(language))
            else:
                self.send_json(404, {"error": "not found"})

        def do_POST(self):
            if self.path != "/analyze":
                self.send_json(404, {"error": "not found"})
                return
            try:
                length = int(self.headers.get("content-length", "0"))
                req = AnalyzerRequest(json.loads(self.rfile.read(length)))
                if not req.text:
                    raise ValueError("No text provided")
                if not req.language:
                    raise ValueError("No language provided")
                engine.get_supported_entities(req.language)
                many = isinstance(req.text, list)
                texts = req.text if many else [req.text]
                results = [
                    [r for r in found]
                    for found in batch.analyze_iterator(
                        texts=texts,
                        language=req.language,
                        batch_size=max(1, len(texts)),
                        entities=req.entities,
                        score_threshold=req.score_threshold,
                        ad_hoc_recognizers=req.ad_hoc_recognizers,
                        context=req.context,
                        allow_list=req.allow_list,
                        allow_list_match=req.allow_list_match,
                        regex_flags=req.regex_flags,
                    )
                ]
                for found in results:
                    for r in found:
                        r.recognition_metadata = None
                self.send_json(200, results if many else results[0])
            except Exception as e:  # noqa: BLE001 - the client gets the class, never the text
                self.send_json(400, {"error": type(e).__name__})

    return Handler


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--deny-list",
        action="append",
        default=[],
        metavar="ENTITY=word,word",
        help="a deny-list recognizer for ENTITY (stands in for NER in tests)",
    )
    args = parser.parse_args()
    deny_lists = []
    for spec in args.deny_list:
        entity, _, words = spec.partition("=")
        deny_lists.append((entity, [w for w in words.split(",") if w]))
    logging.disable(logging.WARNING)
    engine = build_engine(deny_lists)
    server = ThreadingHTTPServer((args.host, args.port), make_handler(engine, BatchAnalyzerEngine(engine)))
    print(f"presidio analyzer listening on http://{args.host}:{server.server_port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
