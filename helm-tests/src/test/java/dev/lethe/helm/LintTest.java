package dev.lethe.helm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.marcnuri.helm.LintResult;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** {@code helm lint --strict} passes with each ci values file and says what is missing without one. */
class LintTest {

    @ParameterizedTest
    @ValueSource(strings = {Chart.MINIMAL, Chart.FULL, Chart.PVC})
    void lintsCleanly(String valuesFile) {
        LintResult result = Chart.lint(valuesFile);
        assertFalse(result.isFailed(), valuesFile + ": " + result.getMessages());
        assertEquals(List.of(), result.getMessages().stream()
                .filter(m -> m.contains("[ERROR]") || m.contains("[WARNING]")).toList(), valuesFile);
    }

    @Test
    void theChartAloneNamesTheValuesItNeeds() {
        // No default tenant: the gateway would fall back to its public development key.
        LintResult result = Chart.lintAsIs();
        assertTrue(result.isFailed());
        String messages = String.join("\n", result.getMessages());
        assertTrue(messages.contains("/gateway/tenants") && messages.contains("/kafka/bootstrapServers"), messages);
    }
}
