// TFDS `features.json` for the Bridge V2 RLDS schema (shapes and dtypes as TFDS writes them).
const tensor = (dims: number[], dtype: string) => ({
  pythonClassName: 'tensorflow_datasets.core.features.tensor_feature.Tensor',
  tensor: { shape: { dimensions: dims.map(String) }, dtype, encoding: 'none' },
});
const scalar = (dtype: string) => ({
  pythonClassName: 'tensorflow_datasets.core.features.scalar.Scalar',
  tensor: { shape: {}, dtype, encoding: 'none' },
});
const text = () => ({ pythonClassName: 'tensorflow_datasets.core.features.text_feature.Text', text: {} });
const image = (width: number, height: number, format: 'jpeg' | 'png') => ({
  pythonClassName: 'tensorflow_datasets.core.features.image_feature.Image',
  image: { shape: { dimensions: [String(height), String(width), '3'] }, dtype: 'uint8', encodingFormat: format },
});
const dict = (features: Record<string, unknown>) => ({
  pythonClassName: 'tensorflow_datasets.core.features.features_dict.FeaturesDict',
  featuresDict: { features },
});

/** The features of a dataset whose frames are width × height images of one format. */
export function bridgeFeaturesJson(
  frame: { width: number; height: number; format: 'jpeg' | 'png' } = { width: 256, height: 256, format: 'jpeg' },
): unknown {
  const img = () => image(frame.width, frame.height, frame.format);
  return dict({
    steps: {
      pythonClassName: 'tensorflow_datasets.core.features.dataset_feature.Dataset',
      sequence: {
        feature: dict({
          observation: dict({ image_0: img(), image_1: img(), image_2: img(), image_3: img(), state: tensor([7], 'float32') }),
          action: tensor([7], 'float32'),
          language_instruction: text(),
          language_embedding: tensor([512], 'float32'),
          is_first: scalar('bool'),
          is_last: scalar('bool'),
          is_terminal: scalar('bool'),
          reward: scalar('float32'),
          discount: scalar('float32'),
        }),
        length: '-1',
      },
    },
    episode_metadata: dict({
      file_path: text(),
      episode_id: scalar('int32'),
      has_image_0: scalar('bool'),
      has_image_1: scalar('bool'),
      has_image_2: scalar('bool'),
      has_image_3: scalar('bool'),
      has_language: scalar('bool'),
    }),
  });
}
