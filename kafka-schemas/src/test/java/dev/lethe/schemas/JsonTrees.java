package dev.lethe.schemas;

import java.util.Map;
import tools.jackson.databind.JsonNode;

/** Comparisons of JSON trees for the tests. */
final class JsonTrees {

    private JsonTrees() {
    }

    /**
     * Whether every property and element of {@code part} is in {@code whole} with an equal value, numbers
     * compared by value (256 equals 256.0: a record's double writes the latter).
     */
    static boolean contains(JsonNode whole, JsonNode part) {
        if (part.isNumber()) {
            return whole.isNumber() && part.decimalValue().compareTo(whole.decimalValue()) == 0;
        }
        if (part.isObject()) {
            if (!whole.isObject()) {
                return false;
            }
            for (Map.Entry<String, JsonNode> property : part.properties()) {
                JsonNode other = whole.get(property.getKey());
                if (other == null || !contains(other, property.getValue())) {
                    return false;
                }
            }
            return true;
        }
        if (part.isArray()) {
            if (!whole.isArray() || whole.size() != part.size()) {
                return false;
            }
            for (int i = 0; i < part.size(); i++) {
                if (!contains(whole.get(i), part.get(i))) {
                    return false;
                }
            }
            return true;
        }
        return part.equals(whole);
    }
}
