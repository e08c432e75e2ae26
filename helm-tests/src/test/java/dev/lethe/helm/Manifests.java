package dev.lethe.helm;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.MappingIterator;
import tools.jackson.databind.node.ObjectNode;
import tools.jackson.dataformat.yaml.YAMLMapper;

/** The documents of one render of the chart, as JSON trees, with the look-ups the tests need. */
record Manifests(String text, List<ObjectNode> documents) {

    static final YAMLMapper YAML = YAMLMapper.builder().build();

    static Manifests parse(String text) {
        List<ObjectNode> documents = new ArrayList<>();
        try (MappingIterator<JsonNode> it = YAML.readerFor(JsonNode.class).readValues(text)) {
            while (it.hasNext()) {
                JsonNode document = it.next();
                if (document == null || document.isNull() || document.isMissingNode()) continue;
                if (!(document instanceof ObjectNode object)) {
                    throw new AssertionError("a rendered document is not a mapping: " + document);
                }
                documents.add(object);
            }
        }
        return new Manifests(text, List.copyOf(documents));
    }

    List<ObjectNode> ofKind(String kind) {
        return documents.stream().filter(d -> kind.equals(d.path("kind").asString(""))).toList();
    }

    ObjectNode one(String kind, String name) {
        List<ObjectNode> found = ofKind(kind).stream()
                .filter(d -> name.equals(d.path("metadata").path("name").asString(""))).toList();
        if (found.size() != 1) {
            throw new AssertionError("expected one " + kind + " named " + name + ", found " + found.size()
                    + " among " + summary());
        }
        return found.getFirst();
    }

    /** The one object of a kind whose component label is the given one (gateway, worker). */
    ObjectNode component(String kind, String component) {
        Predicate<ObjectNode> matches = d -> component.equals(
                d.path("metadata").path("labels").path("app.kubernetes.io/component").asString(""));
        List<ObjectNode> found = ofKind(kind).stream().filter(matches).toList();
        if (found.size() != 1) {
            throw new AssertionError("expected one " + kind + " of component " + component + ", found "
                    + found.size() + " among " + summary());
        }
        return found.getFirst();
    }

    List<String> summary() {
        return documents.stream()
                .map(d -> d.path("kind").asString("?") + "/" + d.path("metadata").path("name").asString("?"))
                .toList();
    }
}
