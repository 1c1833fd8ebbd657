package io.inferencejobs.inference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import org.junit.jupiter.api.Test;

class DevicesTest {

  @Test
  void withoutAGpuAutoAndCudaRunOnCpu() throws Exception {
    assumeFalse(Devices.nvidiaGpuPresent(), "this machine has an NVIDIA GPU");
    byte[] model = TinyOnnx.channelMeans(4, 4);
    try (InferenceEngine auto = InferenceEngine.load(model, null, EngineOptions.defaults());
         InferenceEngine cuda = InferenceEngine.load(model, null, EngineOptions.defaults().withDevice("cuda:0"))) {
      assertThat(auto.provider()).isEqualTo("CPU");
      assertThat(cuda.provider()).isEqualTo("CPU");
    }
  }

  @Test
  void optionsAreValidated() {
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> EngineOptions.defaults().withDevice("tpu"))
        .hasMessageContaining("auto, cpu or cuda:N");
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> EngineOptions.defaults().withBatchSize(0))
        .hasMessageContaining("batchSize");
  }
}
