package io.inferencejobs.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** Only that the benchmark runs and prints its table; it measures, tests never judge timings. */
class BenchEngineCommandTest {

  @Test
  void printsBareAndEngineRowsWithTheirRatio() {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();

    int code = BenchEngineCommand.run(new String[] {"--batch", "2", "--seconds", "0.5", "--device", "cpu"},
        new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));

    String text = out.toString(StandardCharsets.UTF_8);
    assertThat(code).as(err.toString(StandardCharsets.UTF_8)).isZero();
    assertThat(text).contains("single-thread decode + preprocess to 640x640");
    assertThat(text).containsPattern("dog\\.jpg 768x576\\s+imageio\\s+\\d");
    assertThat(text).containsPattern("phone 4000x3000\\s+imageio\\s+\\d");
    assertThat(text).containsPattern("\\n2\\s+bare\\s+\\d");
    assertThat(text).containsPattern("\\n2\\s+engine\\s+\\d+\\.\\d+\\s+\\d+\\.\\d+\\s+\\d+\\.\\d%");
  }
}
