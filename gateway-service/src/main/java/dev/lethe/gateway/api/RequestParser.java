package dev.lethe.gateway.api;

import dev.lethe.gateway.GatewayProperties;
import dev.lethe.schemas.ChatMessage;
import dev.lethe.schemas.JobRequest;
import dev.lethe.schemas.KvPolicy;
import dev.lethe.schemas.Sampling;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import tools.jackson.core.JacksonException;
import tools.jackson.core.TokenStreamLocation;
import tools.jackson.databind.DeserializationFeature;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * Reads and checks a request body of the OpenAI endpoints or of {@code POST /v1/jobs}, reporting every
 * bad field at once. Unknown fields are ignored, as OpenAI-compatible servers do; JSON nulls count as
 * absent. Limits follow the {@code lethe.job-request/v1} schema, so that what passes here is a valid
 * event.
 */
public final class RequestParser {

    /** Which endpoint a body was sent to. */
    public enum Kind {
        /** {@code /v1/chat/completions}: messages */
        CHAT,
        /** {@code /v1/completions}: prompt */
        COMPLETION,
        /** {@code /v1/jobs}: prompt or messages */
        JOB
    }

    static final int MAX_MESSAGES = 1024;
    static final int MAX_MESSAGE_CHARS = 262_144;
    static final int MAX_STOP_SEQUENCES = 16;
    static final int MAX_STOP_CHARS = 256;
    static final int MAX_TOP_K = 1_048_576;
    static final long MAX_SEED = 9_007_199_254_740_991L; // 2^53 - 1: exact in every JSON reader
    private static final Pattern POLICY_NAME = Pattern.compile("^[a-z0-9][a-z0-9-]{0,63}$");
    private static final Pattern PARAMETER_NAME = Pattern.compile("^[A-Za-z][A-Za-z0-9_.-]{0,63}$");

    private final GatewayProperties properties;
    private final JsonMapper mapper = JsonMapper.builder()
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();

    public RequestParser(GatewayProperties properties) {
        this.properties = properties;
    }

    /** @throws ApiProblem 400 for a body that is not JSON or has invalid fields */
    public GenerationRequest parse(Kind kind, String body) {
        JsonNode json = readJson(body);
        Fields f = new Fields(json);

        String requestedModel = f.string("model");
        if (requestedModel != null && !properties.models().contains(requestedModel)) {
            f.error("model", "unknown model \"" + requestedModel + "\"; this gateway serves " + properties.models());
        }
        String prompt = null;
        List<ChatMessage> messages = null;
        switch (kind) {
            case CHAT -> messages = messages(f);
            case COMPLETION -> prompt = prompt(f);
            case JOB -> {
                boolean hasPrompt = f.present("prompt");
                boolean hasMessages = f.present("messages");
                if (hasPrompt == hasMessages) {
                    f.error(hasPrompt ? "messages" : "prompt", "give either prompt or messages, "
                            + (hasPrompt ? "not both" : "one of them is required"));
                } else if (hasPrompt) {
                    prompt = prompt(f);
                } else {
                    messages = messages(f);
                }
            }
        }

        Long maxTokens = f.integer("max_completion_tokens", 1, properties.limits().maxTokens());
        Long legacyMaxTokens = f.integer("max_tokens", 1, properties.limits().maxTokens());
        if (maxTokens == null) {
            maxTokens = legacyMaxTokens;
        }
        Double temperature = f.number("temperature", 0, false, 2);
        Double topP = f.number("top_p", 0, true, 1);
        Long topK = f.integer("top_k", 0, MAX_TOP_K);
        Double minP = f.number("min_p", 0, false, 1);
        Long seed = f.integer("seed", 0, MAX_SEED);
        List<String> stop = stop(f);
        f.integer("n", 1, 1); // several choices per request are not supported
        if (kind == Kind.COMPLETION) {
            f.integer("best_of", 1, 1);
            if (Boolean.TRUE.equals(f.bool("echo"))) {
                f.error("echo", "echoing the prompt is not supported");
            }
        }
        if (f.present("logprobs")) {
            // Chat asks with true, completions with a count; false and 0 ask for nothing.
            JsonNode logprobs = f.node("logprobs");
            boolean none = logprobs.isBoolean() ? !logprobs.booleanValue() : logprobs.isNumber() && logprobs.doubleValue() == 0;
            if (!none) {
                f.error("logprobs", "log probabilities are not supported");
            }
        }
        KvPolicy kvPolicy = kvPolicy(f);
        Long priority = f.integer("priority", 0, 9);
        boolean stream = kind != Kind.JOB && Boolean.TRUE.equals(f.bool("stream"));
        boolean includeUsage = false;
        if (stream && f.present("stream_options")) {
            JsonNode options = f.node("stream_options");
            if (!options.isObject()) {
                f.error("stream_options", "must be an object");
            } else if (options.has("include_usage") && !options.get("include_usage").isNull()) {
                if (!options.get("include_usage").isBoolean()) {
                    f.error("stream_options.include_usage", "must be a boolean");
                } else {
                    includeUsage = options.get("include_usage").booleanValue();
                }
            }
        }
        f.throwIfAny();

        Sampling defaults = Sampling.withMaxTokens(properties.limits().defaultMaxTokens());
        Sampling sampling = new Sampling(
                maxTokens != null ? maxTokens.intValue() : defaults.maxTokens(),
                temperature != null ? temperature : defaults.temperature(),
                topP != null ? topP : defaults.topP(),
                topK != null ? topK.intValue() : defaults.topK(),
                minP != null ? minP : defaults.minP(),
                seed,
                stop);
        String model = requestedModel != null ? requestedModel : properties.defaultModel();
        return new GenerationRequest(requestedModel, model, prompt, messages, sampling, kvPolicy,
                priority != null ? priority.intValue() : JobRequest.DEFAULT_PRIORITY, stream, includeUsage);
    }

    private JsonNode readJson(String body) {
        if (body == null || body.isBlank()) {
            throw ApiProblem.badJson("the request body is empty; expected a JSON object");
        }
        JsonNode json;
        try {
            json = mapper.readTree(body);
        } catch (JacksonException e) {
            TokenStreamLocation at = e.getLocation();
            String where = at == null ? "" : " at line " + at.getLineNr() + ", column " + at.getColumnNr();
            throw ApiProblem.badJson("the request body is not valid JSON" + where + ": " + e.getOriginalMessage());
        }
        if (json == null || !json.isObject()) {
            throw ApiProblem.badJson("the request body must be a JSON object");
        }
        return json;
    }

    private String prompt(Fields f) {
        if (!f.present("prompt")) {
            f.error("prompt", "is required");
            return null;
        }
        JsonNode node = f.node("prompt");
        String prompt;
        if (node.isString()) {
            prompt = node.stringValue();
        } else if (node.isArray() && node.size() == 1 && node.get(0).isString()) {
            prompt = node.get(0).stringValue(); // OpenAI allows a batch; a batch of one is just a prompt
        } else if (node.isArray()) {
            f.error("prompt", "must be one string; batches and token arrays are not supported");
            return null;
        } else {
            f.error("prompt", "must be a string, not " + Fields.describe(node));
            return null;
        }
        if (prompt.isEmpty()) {
            f.error("prompt", "must not be empty");
        } else if (prompt.length() > properties.limits().maxPromptChars()) {
            f.error("prompt", "is " + prompt.length() + " characters, more than the limit of "
                    + properties.limits().maxPromptChars());
        }
        return prompt;
    }

    private List<ChatMessage> messages(Fields f) {
        if (!f.present("messages")) {
            f.error("messages", "is required");
            return null;
        }
        JsonNode node = f.node("messages");
        if (!node.isArray()) {
            f.error("messages", "must be an array, not " + Fields.describe(node));
            return null;
        }
        if (node.isEmpty() || node.size() > MAX_MESSAGES) {
            f.error("messages", "must hold 1 to " + MAX_MESSAGES + " messages, not " + node.size());
            return null;
        }
        List<ChatMessage> messages = new ArrayList<>();
        long totalChars = 0;
        for (int i = 0; i < node.size(); i++) {
            String path = "messages[" + i + "]";
            JsonNode message = node.get(i);
            if (!message.isObject()) {
                f.error(path, "must be an object with role and content");
                continue;
            }
            ChatMessage.Role role = role(f, path, message.get("role"));
            String content = content(f, path + ".content", message.get("content"));
            if (role != null && content != null) {
                messages.add(new ChatMessage(role, content));
                totalChars += content.length();
            }
        }
        if (totalChars > properties.limits().maxPromptChars()) {
            f.error("messages", "hold " + totalChars + " characters of content, more than the limit of "
                    + properties.limits().maxPromptChars());
        }
        return messages;
    }

    private static ChatMessage.Role role(Fields f, String path, JsonNode role) {
        if (role == null || role.isNull()) {
            f.error(path + ".role", "is required");
            return null;
        }
        return switch (role.isString() ? role.stringValue() : "") {
            case "system", "developer" -> ChatMessage.Role.SYSTEM;
            case "user" -> ChatMessage.Role.USER;
            case "assistant" -> ChatMessage.Role.ASSISTANT;
            default -> {
                f.error(path + ".role", "must be one of system, developer, user, assistant; not " + role);
                yield null;
            }
        };
    }

    private static String content(Fields f, String path, JsonNode content) {
        if (content == null || content.isNull()) {
            f.error(path, "is required");
            return null;
        }
        String text;
        if (content.isString()) {
            text = content.stringValue();
        } else if (content.isArray()) {
            // Content parts: only text parts can be fed to a text model; they are joined in order.
            StringBuilder joined = new StringBuilder();
            for (int i = 0; i < content.size(); i++) {
                JsonNode part = content.get(i);
                if (part.isObject() && "text".equals(part.path("type").asString(null)) && part.path("text").isString()) {
                    joined.append(part.get("text").stringValue());
                } else {
                    f.error(path + "[" + i + "]", "only parts of type text with a text string are supported");
                    return null;
                }
            }
            text = joined.toString();
        } else {
            f.error(path, "must be a string or an array of text parts, not " + Fields.describe(content));
            return null;
        }
        if (text.length() > MAX_MESSAGE_CHARS) {
            f.error(path, "is " + text.length() + " characters, more than the limit of " + MAX_MESSAGE_CHARS);
            return null;
        }
        return text;
    }

    private static List<String> stop(Fields f) {
        if (!f.present("stop")) {
            return List.of();
        }
        JsonNode node = f.node("stop");
        List<String> stop = new ArrayList<>();
        if (node.isString()) {
            stop.add(node.stringValue());
        } else if (node.isArray()) {
            for (JsonNode element : node) {
                if (!element.isString()) {
                    f.error("stop", "must hold only strings, not " + Fields.describe(element));
                    return List.of();
                }
                stop.add(element.stringValue());
            }
        } else {
            f.error("stop", "must be a string or an array of strings, not " + Fields.describe(node));
            return List.of();
        }
        if (stop.size() > MAX_STOP_SEQUENCES) {
            f.error("stop", "may hold at most " + MAX_STOP_SEQUENCES + " sequences, not " + stop.size());
        }
        for (int i = 0; i < stop.size(); i++) {
            int length = stop.get(i).length();
            if (length == 0 || length > MAX_STOP_CHARS) {
                f.error("stop[" + i + "]", "must be 1 to " + MAX_STOP_CHARS + " characters, not " + length);
            }
        }
        return stop;
    }

    /** A policy name ({@code "lethe"}) or {@code {"name": "lethe", "parameters": {"sparse-ratio": 50}}}. */
    private static KvPolicy kvPolicy(Fields f) {
        if (!f.present("kv_policy")) {
            return null;
        }
        JsonNode node = f.node("kv_policy");
        JsonNode name = node.isObject() ? node.get("name") : node;
        if (name == null || !name.isString() || !POLICY_NAME.matcher(name.stringValue()).matches()) {
            f.error(node.isObject() ? "kv_policy.name" : "kv_policy",
                    "must be a policy name of lower-case letters, digits and dashes, such as \"lethe\"");
            return null;
        }
        Map<String, Double> parameters = new LinkedHashMap<>();
        JsonNode given = node.isObject() ? node.get("parameters") : null;
        if (given != null && !given.isNull()) {
            if (!given.isObject()) {
                f.error("kv_policy.parameters", "must be an object of numbers");
                return null;
            }
            for (Map.Entry<String, JsonNode> entry : given.properties()) {
                String path = "kv_policy.parameters." + entry.getKey();
                if (!PARAMETER_NAME.matcher(entry.getKey()).matches()) {
                    f.error(path, "is not a parameter name (a letter, then letters, digits, _ . -)");
                } else if (!entry.getValue().isNumber()) {
                    f.error(path, "must be a number, not " + Fields.describe(entry.getValue()));
                } else {
                    parameters.put(entry.getKey(), entry.getValue().doubleValue());
                }
            }
            if (parameters.size() > 32) {
                f.error("kv_policy.parameters", "may hold at most 32 parameters");
            }
        }
        return new KvPolicy(name.stringValue(), parameters);
    }

    /** The fields of one request body and the problems found in them so far. */
    private static final class Fields {
        private final JsonNode json;
        private final List<ApiProblem.FieldError> errors = new ArrayList<>();

        Fields(JsonNode json) {
            this.json = json;
        }

        boolean present(String name) {
            JsonNode node = json.get(name);
            return node != null && !node.isNull();
        }

        JsonNode node(String name) {
            return json.get(name);
        }

        void error(String field, String message) {
            errors.add(new ApiProblem.FieldError(field, message));
        }

        void throwIfAny() {
            if (!errors.isEmpty()) {
                throw ApiProblem.invalid(errors);
            }
        }

        String string(String name) {
            if (!present(name)) {
                return null;
            }
            JsonNode node = json.get(name);
            if (!node.isString()) {
                error(name, "must be a string, not " + describe(node));
                return null;
            }
            return node.stringValue();
        }

        Boolean bool(String name) {
            if (!present(name)) {
                return null;
            }
            JsonNode node = json.get(name);
            if (!node.isBoolean()) {
                error(name, "must be a boolean, not " + describe(node));
                return null;
            }
            return node.booleanValue();
        }

        Long integer(String name, long min, long max) {
            if (!present(name)) {
                return null;
            }
            JsonNode node = json.get(name);
            // 5.0 is accepted as 5: some clients write every number as a double.
            boolean integral = node.isIntegralNumber()
                    || (node.isFloatingPointNumber() && node.doubleValue() == Math.rint(node.doubleValue()));
            if (!integral || !node.canConvertToLong()) {
                error(name, "must be an integer, not " + describe(node));
                return null;
            }
            long value = node.longValue();
            if (value < min || value > max) {
                error(name, min == max ? "must be " + min + ", not " + value
                        : "must be between " + min + " and " + max + ", not " + value);
                return null;
            }
            return value;
        }

        /** A number in [min, max], or (min, max] when {@code exclusiveMin}. */
        Double number(String name, double min, boolean exclusiveMin, double max) {
            if (!present(name)) {
                return null;
            }
            JsonNode node = json.get(name);
            if (!node.isNumber()) {
                error(name, "must be a number, not " + describe(node));
                return null;
            }
            double value = node.doubleValue();
            boolean aboveMin = exclusiveMin ? value > min : value >= min;
            if (!aboveMin || value > max || Double.isNaN(value)) {
                error(name, "must be " + (exclusiveMin ? "greater than " : "at least ") + format(min)
                        + " and at most " + format(max) + ", not " + node);
                return null;
            }
            return value;
        }

        private static String format(double d) {
            return d == Math.rint(d) ? Long.toString((long) d) : Double.toString(d);
        }

        static String describe(JsonNode node) {
            return switch (node.getNodeType()) {
                case ARRAY -> "an array";
                case OBJECT -> "an object";
                case STRING -> "a string";
                case NUMBER -> "the number " + node;
                case BOOLEAN -> node.toString();
                case NULL -> "null";
                default -> node.getNodeType().toString().toLowerCase();
            };
        }
    }
}
