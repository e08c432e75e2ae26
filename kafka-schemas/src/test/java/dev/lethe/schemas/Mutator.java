package dev.lethe.schemas;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.JsonNodeFactory;
import tools.jackson.databind.node.ObjectNode;

/**
 * Random damage to valid events, from single bit flips to well-formed JSON with a wrong value, so that
 * the fuzz test reaches every stage of the decoder. Each mutant says what was done to it.
 */
final class Mutator {

    record Mutant(String origin, List<String> steps, byte[] bytes) {
        @Override
        public String toString() {
            String text = new String(bytes, StandardCharsets.UTF_8);
            return origin + " after " + steps + ":\n" + (text.length() > 2000 ? text.substring(0, 2000) + "..." : text);
        }
    }

    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;
    private static final byte[] STRUCTURAL = "{}[]\":,\\ 0-e.tnf".getBytes(StandardCharsets.US_ASCII);

    private final Random random;
    private final List<JsonNode> valuePool = new ArrayList<>();
    private final List<String> namePool = new ArrayList<>();

    Mutator(Random random, List<Examples> examples) {
        this.random = random;
        for (Examples example : examples) {
            collect(SchemaValidator.PLAIN.readTree(example.bytes()));
        }
        // Boundaries of the schemas' ranges and the types JSON has.
        for (String literal : List.of("null", "true", "false", "0", "-1", "1", "2", "0.5", "-0.0", "2.0000001",
                "1e308", "1e-320", "1.0e2", "9007199254740991", "9007199254740992", "2147483647", "2147483648",
                "-9223372036854775809", "123456789012345678901234567890", "\"\"", "\"a\"", "\"-x\"", "\"a b\"",
                "\"é\"", "\"\\ud83d\\ude00\"", "\"\\u0000\"", "[]", "{}", "[1,2,3]", "{\"a\":1}", "[[[[]]]]",
                "\"2026-03-14T09:26:53Z\"", "\"2026-03-14t09:26:53z\"", "\"2026-02-30T00:00:00Z\"",
                "\"2026-12-31T23:59:60Z\"", "\"2026-03-14T09:26:53.123456789+05:30\"", "\"0000-01-01T00:00:00Z\"",
                "\"stop\"", "\"length\"", "\"FAILED\"", "\"COMPLETED\"", "\"QUEUED\"", "\"CANCEL\"", "\"user\"",
                "\"lethe.job-request/v1\"", "\"lethe.token-chunk/v1\"", "\"lethe.job-status/v1\"",
                "\"lethe.control/v1\"", "\"lethe.checkpoint-manifest/v1\"", "\"lethe.job-request/v2\"")) {
            valuePool.add(SchemaValidator.PLAIN.readTree(literal));
        }
        valuePool.add(NODES.stringNode("x".repeat(300)));
        namePool.addAll(List.of("schema", "x-extra", "", "prompt", "messages", "error", "finishReason", "worker"));
    }

    Mutant mutate(Examples example) {
        byte[] bytes = example.bytes();
        List<String> steps = new ArrayList<>();
        int count = 1 + random.nextInt(3);
        for (int i = 0; i < count; i++) {
            bytes = random.nextInt(10) < 6 ? mutateJson(bytes, steps) : mutateBytes(bytes, steps);
        }
        return new Mutant(example.file(), steps, bytes);
    }

    private byte[] mutateJson(byte[] bytes, List<String> steps) {
        JsonNode root;
        try {
            root = SchemaValidator.PLAIN.readTree(bytes);
        } catch (JacksonException e) {
            return mutateBytes(bytes, steps);
        }
        List<JsonNode> containers = new ArrayList<>();
        containers(root, containers);
        if (containers.isEmpty()) {
            return mutateBytes(bytes, steps);
        }
        JsonNode target = pick(containers);
        if (target instanceof ObjectNode object) {
            List<String> names = new ArrayList<>(object.propertyNames());
            String name = names.isEmpty() ? "x" : pick(names);
            switch (random.nextInt(5)) {
                case 0 -> {
                    object.remove(name);
                    steps.add("remove " + name);
                }
                case 1, 2 -> {
                    JsonNode value = pick(valuePool).deepCopy();
                    object.set(name, value);
                    steps.add("set " + name + " = " + abbreviate(value));
                }
                case 3 -> {
                    String added = pick(namePool);
                    JsonNode value = pick(valuePool).deepCopy();
                    object.set(added, value);
                    steps.add("add " + added + " = " + abbreviate(value));
                }
                default -> {
                    JsonNode value = object.remove(name);
                    String renamed = pick(namePool);
                    if (value != null) {
                        object.set(renamed, value);
                    }
                    steps.add("rename " + name + " -> " + renamed);
                }
            }
        } else if (target instanceof ArrayNode array && !array.isEmpty()) {
            int index = random.nextInt(array.size());
            switch (random.nextInt(4)) {
                case 0 -> {
                    array.remove(index);
                    steps.add("remove element " + index);
                }
                case 1 -> {
                    array.add(array.get(index).deepCopy());
                    steps.add("repeat element " + index);
                }
                case 2 -> {
                    array.removeAll();
                    steps.add("empty an array");
                }
                default -> {
                    JsonNode value = pick(valuePool).deepCopy();
                    array.set(index, value);
                    steps.add("set element " + index + " = " + abbreviate(value));
                }
            }
        } else {
            return mutateBytes(bytes, steps);
        }
        return SchemaValidator.PLAIN.writeValueAsBytes(root);
    }

    private byte[] mutateBytes(byte[] bytes, List<String> steps) {
        if (bytes.length == 0) {
            steps.add("insert into nothing");
            return new byte[] {pickByte()};
        }
        int at = random.nextInt(bytes.length);
        return switch (random.nextInt(8)) {
            case 0 -> {
                byte[] out = bytes.clone();
                out[at] ^= (byte) (1 << random.nextInt(8));
                steps.add("flip a bit of byte " + at);
                yield out;
            }
            case 1 -> {
                byte[] out = bytes.clone();
                out[at] = pickByte();
                steps.add("replace byte " + at);
                yield out;
            }
            case 2 -> {
                steps.add("delete byte " + at);
                yield concat(Arrays.copyOfRange(bytes, 0, at), Arrays.copyOfRange(bytes, at + 1, bytes.length));
            }
            case 3 -> {
                steps.add("insert a byte at " + at);
                yield concat(Arrays.copyOfRange(bytes, 0, at), new byte[] {pickByte()},
                        Arrays.copyOfRange(bytes, at, bytes.length));
            }
            case 4 -> {
                steps.add("truncate to " + at);
                yield Arrays.copyOf(bytes, at);
            }
            case 5 -> {
                int length = Math.min(bytes.length - at, 1 + random.nextInt(40));
                steps.add("repeat " + length + " bytes at " + at);
                yield concat(Arrays.copyOfRange(bytes, 0, at + length), Arrays.copyOfRange(bytes, at, bytes.length));
            }
            case 6 -> {
                // Inside a string this is an escaped lone surrogate; elsewhere, broken JSON.
                String escape = pick(List.of("\\ud800", "\\udfff", "\\ud83d\\ude00", "\\u0000", "\\\""));
                steps.add("insert " + escape + " at " + at);
                yield concat(Arrays.copyOfRange(bytes, 0, at), escape.getBytes(StandardCharsets.US_ASCII),
                        Arrays.copyOfRange(bytes, at, bytes.length));
            }
            default -> {
                byte[][] sequences = {{(byte) 0xED, (byte) 0xA0, (byte) 0x80}, {(byte) 0xC0, (byte) 0xAF},
                        {(byte) 0xF4, (byte) 0x90, (byte) 0x80, (byte) 0x80}, {(byte) 0xEF, (byte) 0xBB, (byte) 0xBF}};
                steps.add("insert an odd UTF-8 sequence at " + at);
                yield concat(Arrays.copyOfRange(bytes, 0, at), sequences[random.nextInt(sequences.length)],
                        Arrays.copyOfRange(bytes, at, bytes.length));
            }
        };
    }

    private void collect(JsonNode node) {
        if (node.isObject()) {
            node.properties().forEach(p -> {
                namePool.add(p.getKey());
                collect(p.getValue());
            });
        } else if (node.isArray()) {
            node.forEach(this::collect);
        }
        valuePool.add(node);
    }

    private static void containers(JsonNode node, List<JsonNode> into) {
        if (node.isContainer()) {
            into.add(node);
            node.forEach(child -> containers(child, into));
        }
    }

    private byte pickByte() {
        return random.nextBoolean() ? STRUCTURAL[random.nextInt(STRUCTURAL.length)] : (byte) random.nextInt(256);
    }

    private <T> T pick(List<T> items) {
        return items.get(random.nextInt(items.size()));
    }

    private static String abbreviate(JsonNode value) {
        String text = value.toString();
        return text.length() > 40 ? text.substring(0, 40) + "..." : text;
    }

    private static byte[] concat(byte[]... parts) {
        int length = 0;
        for (byte[] part : parts) {
            length += part.length;
        }
        byte[] out = new byte[length];
        int at = 0;
        for (byte[] part : parts) {
            System.arraycopy(part, 0, out, at, part.length);
            at += part.length;
        }
        return out;
    }
}
