package io.inferencejobs.it;

import io.inferencejobs.client.ApiClient;
import io.inferencejobs.client.ApiException;
import io.inferencejobs.client.api.DefaultApi;
import io.inferencejobs.client.model.ImageResult;
import io.inferencejobs.client.model.InferenceJobRequest;
import io.inferencejobs.client.model.InferenceJobRequestInputData;
import io.inferencejobs.client.model.Job;
import io.inferencejobs.client.model.Prediction;
import io.inferencejobs.client.model.ResultPage;
import io.inferencejobs.client.model.Upload;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The README's walkthrough, run by a Java client generated from the contract at build time (openapi-generator, as
 * REST users make one; never committed): upload two photos, create a job on the session, follow it, read the results.
 * If the contract and the service disagree, the generated client cannot read an answer and this fails.
 */
class GeneratedClientIT extends SharedServiceIT {

  @Test
  void theWalkthroughWithAClientGeneratedFromTheContract() throws Exception {
    ApiClient client = new ApiClient();
    client.updateBaseUri("http://127.0.0.1:" + node.httpPort());
    DefaultApi service = new DefaultApi(client);

    assertThat(service.healthLive().getStatus().getValue()).isEqualTo("up");
    Upload upload = service.uploadImages(1L, List.of(JobFlowIT.IMAGES.resolve("dog.jpg").toFile(),
        JobFlowIT.IMAGES.resolve("person.jpg").toFile()));
    assertThat(upload.getTotalFiles()).isEqualTo(2);
    assertThat(upload.getUploadedFiles().get(0).getOriginalFilename()).isEqualTo("dog.jpg");

    Job created = service.createInferenceJob(new InferenceJobRequest().trainingJobId(1L).checkpointPath("pretrained")
        .inferenceType(InferenceJobRequest.InferenceTypeEnum.BATCH)
        .inputData(new InferenceJobRequestInputData().inferenceSessionId(upload.getInferenceSessionId().toString())),
        null);
    assertThat(created.getStatus()).isEqualTo(Job.StatusEnum.PENDING);
    assertThat(created.getTotalImages()).isEqualTo(2);
    assertThat(created.getLinks().getEvents()).endsWith("/jobs/" + created.getId() + "/events");

    // a generated client cannot follow an event stream: the job's end comes from the stream, as the README shows
    JsonObject end = api.awaitTerminal(created.getId());
    assertThat(end.getString("status")).isEqualTo("completed");

    Job done = service.getInferenceJob(created.getId());
    assertThat(done.getStatus()).isEqualTo(Job.StatusEnum.COMPLETED);
    assertThat(done.getProcessedImages()).isEqualTo(2);
    assertThat(done.getAvgInferenceTimeMs()).isPositive();
    assertThat(service.listInferenceJobs(null, null, null, null, 50, null, null).getJobs()).extracting(Job::getId)
        .contains(created.getId());

    ResultPage page = service.getInferenceJobResults(created.getId(), 100, null, null, null, null, null, null, null,
        null, null);
    // sorted, filtered and counted through the generated client too
    ResultPage byName = service.getInferenceJobResults(created.getId(), 100, null, null, "none", "name", "desc",
        null, null, false, true);
    assertThat(byName.getResults()).extracting(ImageResult::getImageName).containsExactly("person.jpg", "dog.jpg");
    assertThat(byName.getMatchedCount()).isEqualTo(2);
    assertThat(byName.getClassCounts()).isNotEmpty();
    assertThat(page.getResults()).extracting(ImageResult::getImageName).containsExactly("dog.jpg", "person.jpg");
    assertThat(page.getResults().get(0).getPredictions()).extracting(Prediction::getClassName).contains("dog");
    assertThat(page.getResults().get(1).getPredictions()).extracting(Prediction::getClassName).contains("person");
    assertThat(page.getResults().get(0).getPredictions().get(0).getBbox().getX2()).isPositive();

    // an error is the contract's error shape
    try {
      service.getInferenceJob(987654321L);
      throw new AssertionError("a missing job was found");
    } catch (ApiException e) {
      assertThat(e.getCode()).isEqualTo(404);
      assertThat(new JsonObject(e.getResponseBody()).getJsonObject("error").getString("code")).isEqualTo("not_found");
    }
  }
}
